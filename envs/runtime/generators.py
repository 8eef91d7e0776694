"""An environment's random generator, saved before an unseeded reset and restored to replay it.

A reset without a seed continues the environment's own generator
(``env.unwrapped.np_random``, a numpy ``Generator``): saving that generator's
state just before such a reset, and restoring it into a fresh environment of
the same id and kwargs before an unseeded reset there, replays the episode as
a seed would. Randomness kept elsewhere is not in it: ALE's emulator has a
generator of its own, so unseeded ALE episodes are refused (services/replay.py),
and any other such episode replays differently, which replay finds out (its
steps, return or end differ) and says.
"""

import numpy as np


def generator_state(env):
    """The state of ``env``'s generator as plain data (JSON, with Python's big
    integers), or None when it has none that numpy can restore."""
    try:
        state = env.unwrapped.np_random.bit_generator.state
    except Exception:  # noqa: BLE001 - an environment without a numpy generator: nothing to save
        return None
    return state if isinstance(state, dict) and isinstance(state.get("bit_generator"), str) else None


def restore_generator(env, state):
    """Give ``env`` a generator in ``state`` (``generator_state``'s), for its next unseeded reset."""
    kind = getattr(np.random, str(state["bit_generator"]), None)
    if not (isinstance(kind, type) and issubclass(kind, np.random.BitGenerator)):
        raise ValueError(f"{state['bit_generator']!r} is not one of numpy's bit generators")
    bit_generator = kind()
    bit_generator.state = state
    env.unwrapped.np_random = np.random.Generator(bit_generator)
