"""An episode's actions as one compact binary value, and back (the ``Episode.actions`` column).

While an episode runs its actions are kept as the list of decoded actions (a
list append per step); they are encoded here once, when its row is built (at
its end, and at each periodic write of a running episode). The value is one
msgpack map, so that it reads back without the action space:

- the actions of a ``Box``, ``Discrete``, ``MultiDiscrete`` or ``MultiBinary``
  space, stacked into one array of the space's dtype:
  ``{"format": "numpy", "dtype", "shape", "data"}`` (``dtype`` as numpy spells it
  with its byte order, ``"<i8"``; ``data``: the raw bytes, C order, little-endian;
  a CartPole action is 8 bytes);
- any other space's: ``{"format": "msgpack", "values": [...]}``, each action as
  the msgpack codec (``envs.binary``) spells it.
"""

import msgpack
import numpy as np
from gymapi_client.spaces import decode_checked, encode_any
from gymnasium import spaces

from . import binary

ARRAY_SPACES = (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)


class ActionsError(ValueError):
    """Stored actions that cannot be read back."""


def encode_actions(space, actions):
    """``actions`` (a list of members of ``space``, or an array of them stacked) as bytes."""
    if isinstance(space, ARRAY_SPACES):
        if len(actions):
            array = np.asarray(actions, dtype=space.dtype)
        else:
            array = np.empty((0, *space.shape), dtype=space.dtype)
        if array.dtype.byteorder == ">":
            array = array.astype(array.dtype.newbyteorder("<"))
        # dtype.str ("<i8"): str(dtype) costs several times the rest of the encoding.
        return msgpack.packb(
            {"format": "numpy", "dtype": array.dtype.str, "shape": list(array.shape), "data": array.tobytes()},
            use_bin_type=True,
        )
    return msgpack.packb({"format": "msgpack", "values": [binary.encode_value(action) for action in actions]},
                         use_bin_type=True)


def _unpacked(blob):
    try:
        stored = binary.loads(bytes(blob))  # the msgpack codec's arrays come back as nested lists
        if stored["format"] == "numpy":
            dtype = np.dtype(stored["dtype"])
            return np.frombuffer(stored["data"], dtype=dtype).reshape(stored["shape"])
        if stored["format"] == "msgpack":
            return stored["values"]
    except (ValueError, TypeError, KeyError, binary.DecodeError) as error:
        raise ActionsError(f"the stored actions cannot be read: {error}") from None
    raise ActionsError(f"the stored actions are in an unknown format {stored['format']!r}")


def decode_actions(blob, space):
    """The stored actions as members of ``space``, ready for ``env.step``: a list."""
    stored = _unpacked(blob)
    if isinstance(stored, np.ndarray):
        return list(stored.astype(space.dtype, copy=True))  # a copy of its own: an environment may write into its action
    return [decode_checked(space, value, f"actions[{index}]") for index, value in enumerate(stored)]


def actions_json(blob):
    """The stored actions as JSON values (a list), as the API shows them."""
    return encode_any(_unpacked(blob))


def action_count(blob):
    """How many actions are stored."""
    return len(_unpacked(blob))
