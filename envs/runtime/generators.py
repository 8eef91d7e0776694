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

import struct

import numpy as np

# PCG64, Gymnasium's generator, packed: its 128-bit state and increment, has_uint32 and uinteger.
# numpy's dict of the same costs some 500 bytes an instance, held from every unseeded reset.
_PCG64 = struct.Struct("<16s16s?I")


def generator_state(env):
    """The state of ``env``'s generator before it draws, or None when it has none that numpy can
    restore: PCG64's packed in bytes (``unpacked`` gives numpy's plain data, for JSON), another
    bit generator's as numpy gives it."""
    try:
        state = env.unwrapped.np_random.bit_generator.state
    except Exception:  # noqa: BLE001 - an environment without a numpy generator: nothing to save
        return None
    if not (isinstance(state, dict) and isinstance(state.get("bit_generator"), str)):
        return None
    if state["bit_generator"] == "PCG64" and state.keys() == {"bit_generator", "state", "has_uint32", "uinteger"}:
        return _PCG64.pack(state["state"]["state"].to_bytes(16, "little"), state["state"]["inc"].to_bytes(16, "little"),
                           bool(state["has_uint32"]), state["uinteger"])
    return state


def unpacked(state):
    """``generator_state``'s value as numpy's plain data (JSON, with Python's big integers)."""
    if not isinstance(state, bytes):
        return state
    value, increment, has_uint32, uinteger = _PCG64.unpack(state)
    return {
        "bit_generator": "PCG64",
        "state": {"state": int.from_bytes(value, "little"), "inc": int.from_bytes(increment, "little")},
        "has_uint32": int(has_uint32),
        "uinteger": uinteger,
    }


def restore_generator(env, state):
    """Give ``env`` a generator in ``state`` (``generator_state``'s, packed or not), for its next unseeded reset."""
    state = unpacked(state)
    kind = getattr(np.random, str(state["bit_generator"]), None)
    if not (isinstance(kind, type) and issubclass(kind, np.random.BitGenerator)):
        raise ValueError(f"{state['bit_generator']!r} is not one of numpy's bit generators")
    bit_generator = kind()
    bit_generator.state = state
    env.unwrapped.np_random = np.random.Generator(bit_generator)
