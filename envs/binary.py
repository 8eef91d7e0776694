"""msgpack bodies: the binary twin of the JSON codec in ``gymapi_client.spaces``.

The same values travel in the same shapes, except that a numeric numpy array
(an observation, a frame, a batch) is one msgpack map carrying its raw bytes
instead of nested lists of numbers:

    {"__ndarray__": true, "dtype": "uint8", "shape": [210, 160, 3], "data": <bin>}

``data`` is the array in C order, little-endian; ``dtype`` is numpy's name
(``float32``, ``int64``, ``uint8``, ``bool``...). Floats stay floats: msgpack
carries infinities and NaN natively, so no string spelling is needed.

A client may send the same map wherever the JSON API takes an array (an
action, a batch of actions); it is read back into nested lists, so actions
go through exactly the same checks as JSON ones.
"""

import math

import msgpack
import numpy as np
from gymnasium import spaces

CONTENT_TYPE = "application/msgpack"
NDARRAY_KEY = "__ndarray__"
# Client arrays may be of these kinds: booleans, integers, floats.
_ARRAY_KINDS = "biuf"


class DecodeError(ValueError):
    """A msgpack body that cannot be read."""


def _ndarray(array):
    if array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("<"))
    return {
        NDARRAY_KEY: True,
        "dtype": str(array.dtype),
        "shape": list(array.shape),
        "data": np.ascontiguousarray(array).tobytes(),
    }


def encode_value(value):
    """An observation, action, sample or info value, ready for ``msgpack.packb``."""
    if value is None or isinstance(value, (bool, str, int, float, bytes)):
        return value
    if isinstance(value, np.ndarray):
        if value.dtype.kind in _ARRAY_KINDS:
            return _ndarray(value)
        return [encode_value(item) for item in value.tolist()]
    if isinstance(value, np.generic):
        return encode_value(value.item())
    if isinstance(value, dict):
        return {str(key): encode_value(item) for key, item in value.items()}
    if isinstance(value, spaces.GraphInstance):  # before tuples: it is a NamedTuple
        return {
            "nodes": encode_value(value.nodes),
            "edges": encode_value(value.edges),
            "edge_links": encode_value(value.edge_links),
        }
    if isinstance(value, (list, tuple)):
        return [encode_value(item) for item in value]
    return repr(value)


def dumps(body, default=None):
    """A body already made of ``encode_value``'s output (or plain data), as msgpack bytes.

    ``default`` turns what msgpack does not know into what it does.
    """
    return msgpack.packb(body, use_bin_type=True, default=default)


def _read_ndarray(mapping):
    try:
        dtype = np.dtype(mapping["dtype"])
        shape = tuple(int(size) for size in mapping["shape"])
        data = mapping["data"]
    except (KeyError, TypeError, ValueError) as error:
        raise DecodeError(f"an {NDARRAY_KEY} map needs dtype, shape and data: {error}") from None
    if dtype.kind not in _ARRAY_KINDS:
        raise DecodeError(f"an {NDARRAY_KEY} map must hold booleans, integers or floats, not {dtype}")
    if not isinstance(data, bytes):
        raise DecodeError(f"an {NDARRAY_KEY} map's data must be binary")
    if any(size < 0 for size in shape) or math.prod(shape) * dtype.itemsize != len(data):
        raise DecodeError(f"{len(data)} bytes of data do not make an array of {dtype} with shape {list(shape)}")
    return np.frombuffer(data, dtype=dtype.newbyteorder("<")).reshape(shape).tolist()


def _object_hook(mapping):
    if mapping.get(NDARRAY_KEY) is True:
        return _read_ndarray(mapping)
    return mapping


def loads(raw):
    """A client's msgpack body as plain Python data (arrays as nested lists).

    The caller bounds the size of ``raw`` (the request or message limit);
    msgpack bounds nesting itself (a ``StackError``).
    """
    try:
        return msgpack.unpackb(
            raw,
            raw=False,
            object_hook=_object_hook,
            strict_map_key=True,
        )
    except DecodeError:
        raise
    except (ValueError, TypeError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as error:
        raise DecodeError(f"{type(error).__name__}: {error}") from None
