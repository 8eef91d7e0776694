"""The one codec between Gymnasium spaces and values and JSON.

REST views, WebSocket consumers and the Python client follow the same rules:

- A space is described as a JSON object with a ``name`` (the class name) and
  the properties needed to rebuild it, nested to any depth.
- A value (observation, info, action, sample) becomes plain JSON: arrays
  become nested lists, numpy scalars become numbers, tuples become lists.
  Non-finite floats become the strings ``"Infinity"``, ``"-Infinity"`` and
  ``"NaN"`` so that every body is strict JSON.
- An action is decoded into the action space's own types, dtype and shape,
  and must pass ``space.contains`` before an environment ever sees it.
- A space class the codec does not know (minigrid's ``MissionSpace``) is
  described by its name with ``"known": false``; its values go through as
  JSON, for the space's own ``contains`` to accept or refuse.
"""

import math
import reprlib

import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils import batch_space

NON_FINITE = {"Infinity": math.inf, "-Infinity": -math.inf, "NaN": math.nan}

# numpy arrays have at most 64 dimensions; JSON nested deeper than that can be
# no array, and walking it would only risk Python's recursion limit.
MAX_DEPTH = 64


# --- values to JSON ---------------------------------------------------------


def encode_float(value):
    """A float as JSON: itself when finite, else the seed's string spelling."""
    value = float(value)
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _encode_array(array):
    if array.dtype.kind == "f" and array.ndim == 1 and array.size <= 64:
        # A small vector (CartPole's observation): checked in Python, cheaper here than numpy's ufunc call.
        items = array.tolist()
        return items if all(map(math.isfinite, items)) else _replace_non_finite(items)
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        return _replace_non_finite(array.tolist())
    if array.dtype.kind in "biuf":
        return array.tolist()
    # Strings, objects, complex numbers...: item by item, like any other value.
    # tolist() gives a bare item for a 0-d array, so "abc" stays "abc", not
    # ["a", "b", "c"].
    return encode_value(array.tolist())


def _replace_non_finite(items):
    if isinstance(items, list):
        return [_replace_non_finite(item) for item in items]
    return encode_float(items)


def encode_value(value):
    """Turn an observation, action, sample or info value into plain JSON."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return encode_float(value)
    if isinstance(value, np.ndarray):
        return _encode_array(value)
    if isinstance(value, np.generic):
        if isinstance(value, np.floating):
            return encode_float(value)
        if isinstance(value, np.bool_):
            return bool(value)
        if isinstance(value, np.integer):
            return int(value)
        return encode_value(value.item())
    if isinstance(value, dict):
        return {str(key): encode_value(item) for key, item in value.items()}
    # Before tuples: a GraphInstance is a NamedTuple, and the decoder reads it by name.
    if isinstance(value, spaces.GraphInstance):
        return {
            "nodes": encode_value(value.nodes),
            "edges": encode_value(value.edges),
            "edge_links": encode_value(value.edge_links),
        }
    if isinstance(value, (list, tuple)):
        return [encode_value(item) for item in value]
    if isinstance(value, bytes):
        return value.decode("latin-1")
    # Info dicts may carry arbitrary objects; a readable string beats a crash.
    return repr(value)


# --- spaces to JSON ---------------------------------------------------------


def describe_space(space):
    """Describe a space as JSON, with everything needed to rebuild it."""
    describe = _DESCRIBERS.get(type(space))
    if describe is None:
        for cls, candidate in _DESCRIBERS.items():
            if isinstance(space, cls):
                describe = candidate
                break
    if describe is None:
        return _describe_unknown(space)
    return {"name": _base_name(space), **describe(space)}


def _base_name(space):
    for cls in _DESCRIBERS:
        if isinstance(space, cls):
            return cls.__name__
    return type(space).__name__


def _describe_box(space):
    return {
        "dtype": str(space.dtype),
        "shape": list(space.shape),
        "low": encode_value(space.low),
        "high": encode_value(space.high),
    }


def _describe_discrete(space):
    return {"n": int(space.n), "start": int(space.start), "dtype": str(space.dtype)}


def _describe_multi_discrete(space):
    return {
        "nvec": encode_value(space.nvec),
        "start": encode_value(space.start),
        "dtype": str(space.dtype),
        "shape": list(space.shape),
    }


def _describe_multi_binary(space):
    n = space.n
    return {"n": int(n) if np.ndim(n) == 0 else encode_value(np.asarray(n)), "shape": list(space.shape)}


def _describe_text(space):
    return {
        "min_length": int(space.min_length),
        "max_length": int(space.max_length),
        "charset": "".join(sorted(space.character_set)),
    }


def _describe_tuple(space):
    return {"spaces": [describe_space(sub) for sub in space.spaces]}


def _describe_dict(space):
    # "keys" repeats the order explicitly: some JSON readers (JavaScript objects
    # with integer-like keys) do not keep an object's key order.
    return {
        "keys": [str(key) for key in space.spaces],
        "spaces": {str(key): describe_space(sub) for key, sub in space.spaces.items()},
    }


def _describe_sequence(space):
    return {"feature_space": describe_space(space.feature_space), "stack": bool(space.stack)}


def _describe_graph(space):
    return {
        "node_space": describe_space(space.node_space),
        "edge_space": None if space.edge_space is None else describe_space(space.edge_space),
    }


def _describe_one_of(space):
    return {"spaces": [describe_space(sub) for sub in space.spaces]}


def _describe_unknown(space):
    description = {"name": type(space).__name__, "known": False}
    # getattr: a subclass that skipped Space.__init__ has no _shape behind its
    # shape property, and describing must never fail.
    shape, dtype = getattr(space, "shape", None), getattr(space, "dtype", None)
    if shape is not None:
        description["shape"] = [int(size) for size in shape]
    if dtype is not None:
        description["dtype"] = str(dtype)
    return description


_DESCRIBERS = {
    spaces.Box: _describe_box,
    spaces.Discrete: _describe_discrete,
    spaces.MultiDiscrete: _describe_multi_discrete,
    spaces.MultiBinary: _describe_multi_binary,
    spaces.Text: _describe_text,
    spaces.Tuple: _describe_tuple,
    spaces.Dict: _describe_dict,
    spaces.Sequence: _describe_sequence,
    spaces.Graph: _describe_graph,
    spaces.OneOf: _describe_one_of,
}


def build_space(description):
    """Rebuild a Gymnasium space from ``describe_space``'s output.

    The inverse of ``describe_space`` for every known class; the Python client
    and the tests use it. Raises ``ValueError`` for a class it cannot rebuild.
    """
    name = description["name"]
    if name == "Box":
        return spaces.Box(
            low=np.asarray(_decode_non_finite(description["low"]), dtype=description["dtype"]),
            high=np.asarray(_decode_non_finite(description["high"]), dtype=description["dtype"]),
            shape=tuple(description["shape"]),
            dtype=description["dtype"],
        )
    if name == "Discrete":
        return spaces.Discrete(description["n"], start=description["start"], dtype=description.get("dtype", "int64"))
    if name == "MultiDiscrete":
        return spaces.MultiDiscrete(
            np.asarray(description["nvec"]), dtype=description["dtype"], start=np.asarray(description["start"])
        )
    if name == "MultiBinary":
        return spaces.MultiBinary(description["n"])
    if name == "Text":
        return spaces.Text(
            max_length=description["max_length"],
            min_length=description["min_length"],
            charset=description["charset"],
        )
    if name == "Tuple":
        return spaces.Tuple([build_space(sub) for sub in description["spaces"]])
    if name == "Dict":
        # Pairs, not a dict: Dict sorts a plain dict's keys, losing the described order.
        return spaces.Dict([(key, build_space(description["spaces"][key])) for key in description["keys"]])
    if name == "Sequence":
        return spaces.Sequence(build_space(description["feature_space"]), stack=description["stack"])
    if name == "Graph":
        edge = description["edge_space"]
        return spaces.Graph(build_space(description["node_space"]), None if edge is None else build_space(edge))
    if name == "OneOf":
        return spaces.OneOf([build_space(sub) for sub in description["spaces"]])
    raise ValueError(f"cannot rebuild a {name} space")


def _decode_non_finite(items):
    if isinstance(items, list):
        return [_decode_non_finite(item) for item in items]
    if isinstance(items, str):
        return NON_FINITE.get(items, items)
    return items


# --- JSON to actions ---------------------------------------------------------


class DecodeError(ValueError):
    """A JSON value does not fit a space. ``path`` says where, e.g. ``action[1]``."""

    def __init__(self, path, message):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def summarize_space(space):
    """A short human reading of a space for error messages, e.g. ``Discrete(2)``."""
    text = str(space)
    return text if len(text) <= 300 else text[:297] + "..."


def decode_value(space, data, path="action"):
    """Decode JSON ``data`` into a member of ``space``, or raise ``DecodeError``.

    The value gets the space's own types (numpy arrays of the space's dtype and
    shape, numpy integers for ``Discrete``, tuples for ``Tuple``...) and is
    checked with ``space.contains``.
    """
    # The commonest action of all, an int for a Discrete space, taken in a few
    # comparisons (the general path below costs a step's worth: dtype limits, contains).
    if type(data) is int and type(space) is spaces.Discrete and space.start <= data < space.start + space.n:
        return space.dtype.type(data)
    decode = _decode_unknown
    for cls, candidate in _DECODERS.items():
        if isinstance(space, cls):
            decode = candidate
            break
    value = decode(space, data, path)
    try:
        member = space.contains(value)
    except Exception:  # a malformed value may trip the space's own checks
        member = False
    if not member:
        raise DecodeError(path, f"{_short(data)} is not in {summarize_space(space)}")
    return value


_REPR = reprlib.Repr()  # Python 3.11's Repr takes no keyword arguments
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict, _REPR.maxstring, _REPR.maxlong = 3, 8, 8, 60, 40


def _short(data):
    # reprlib, not repr: a client's list nested a thousand deep must give a
    # message, not a RecursionError.
    try:
        text = _REPR.repr(data)
    except Exception:
        text = f"a {type(data).__name__}"
    return text if len(text) <= 80 else text[:77] + "..."


def _is_number(data):
    return isinstance(data, (int, float)) and not isinstance(data, bool)


def _to_int(data, path):
    if isinstance(data, bool) or not _is_number(data):
        raise DecodeError(path, f"expected an integer, got {_short(data)}")
    if isinstance(data, float):
        if not data.is_integer():
            raise DecodeError(path, f"expected an integer, got {_short(data)}")
        data = int(data)
    return data


def _numeric_array(data, dtype, path):
    """Nested JSON lists to a numpy array of ``dtype``, refusing anything odd."""
    dtype = np.dtype(dtype)
    largest = float(np.finfo(dtype).max) if dtype.kind == "f" else None

    def clean(item, where, depth):
        if isinstance(item, list):
            if depth >= MAX_DEPTH:
                # Named at the top: a path of 64 "[0]"s would tell the client nothing.
                raise DecodeError(path, f"expected an array of {dtype}, got lists nested deeper than {MAX_DEPTH}")
            return [clean(sub, f"{where}[{index}]", depth + 1) for index, sub in enumerate(item)]
        if isinstance(item, bool):
            if dtype.kind == "b":
                return item
            raise DecodeError(where, f"expected a number, got {_short(item)}")
        if dtype.kind in "iu":
            return _to_int(item, where)
        if isinstance(item, str) and item in NON_FINITE and dtype.kind == "f":
            return NON_FINITE[item]
        if not _is_number(item):
            raise DecodeError(where, f"expected a number, got {_short(item)}")
        if largest is not None and (isinstance(item, int) or math.isfinite(item)) and abs(item) > largest:
            # numpy would quietly store it as an infinity the client never sent.
            raise DecodeError(where, f"{_short(item)} is out of the range of {dtype}")
        return item

    # Cleaned outside the try: DecodeError is a ValueError, and clean()'s own
    # errors already name the exact element.
    cleaned = clean(data, path, 0)
    try:
        return np.array(cleaned, dtype=dtype)
    except (ValueError, OverflowError, TypeError) as error:
        raise DecodeError(path, f"cannot be read as an array of {dtype}: {error}") from None


def _shaped(array, shape, path, space):
    if array.shape == shape:
        return array
    if array.size == int(np.prod(shape)) and (array.ndim <= 1 or array.size == 1):
        # A flat list, or a single value in any nesting: accept it in the
        # space's shape, as older clients send Pendulum actions as 0.5 and
        # flattened Box bounds. The same values in another nesting ([[a, b],
        # [c, d]] for shape [4]) are a mistake, not a layout to guess.
        return array.reshape(shape)
    raise DecodeError(
        path, f"expected shape {list(shape)}, got {list(array.shape)} (space {summarize_space(space)})"
    )


def _decode_box(space, data, path):
    array = _numeric_array(data, space.dtype, path)
    return _shaped(array, space.shape, path, space)


def _decode_discrete(space, data, path):
    value = _to_int(data, path)
    return space.dtype.type(_in_dtype_range(value, space.dtype, path))


def _in_dtype_range(value, dtype, path):
    info = np.iinfo(dtype)
    if not info.min <= value <= info.max:
        raise DecodeError(path, f"{_short(value)} is out of the range of {dtype}")
    return value


def _decode_multi(space, data, path):
    if _is_number(data) or isinstance(data, bool):
        data = [data]
    if not isinstance(data, list):
        raise DecodeError(path, f"expected a list of integers, got {_short(data)}")
    array = _numeric_array(data, space.dtype, path)
    return _shaped(array, space.shape, path, space)


def _decode_text(space, data, path):
    if not isinstance(data, str):
        raise DecodeError(path, f"expected a string, got {_short(data)}")
    return data


def _decode_tuple(space, data, path):
    if not isinstance(data, list) or len(data) != len(space.spaces):
        raise DecodeError(path, f"expected a list of {len(space.spaces)} values, got {_short(data)}")
    return tuple(decode_value(sub, item, f"{path}[{i}]") for i, (sub, item) in enumerate(zip(space.spaces, data)))


def _decode_dict(space, data, path):
    if not isinstance(data, dict):
        raise DecodeError(path, f"expected an object with keys {list(space.spaces)}")
    expected = {str(key): key for key in space.spaces}
    if set(data) != set(expected):
        raise DecodeError(path, f"expected exactly the keys {list(expected)}, got {list(data)}")
    return {
        expected[key]: decode_value(space.spaces[expected[key]], data[key], f"{path}.{key}") for key in expected
    }


def _decode_sequence(space, data, path):
    if space.stack:
        # Stacked items come in gymnasium's batch layout: one array for a Box
        # feature, but an object of arrays for a Dict feature.
        return _decode_batch(space.feature_space, data, path)
    if not isinstance(data, list):
        raise DecodeError(path, f"expected a list of values of {summarize_space(space.feature_space)}, got {_short(data)}")
    return tuple(decode_value(space.feature_space, item, f"{path}[{i}]") for i, item in enumerate(data))


def _decode_graph(space, data, path):
    if not isinstance(data, dict) or "nodes" not in data:
        raise DecodeError(path, f"expected an object with nodes, edges and edge_links, got {_short(data)}")
    nodes = _decode_batch(space.node_space, data["nodes"], f"{path}.nodes")
    edges, links = data.get("edges"), data.get("edge_links")
    if edges is None and links is None:
        # A graph with no edges (always so without an edge space) has neither.
        return spaces.GraphInstance(nodes, None, None)
    if space.edge_space is None:
        raise DecodeError(f"{path}.edges", "expected null: this graph space has no edge space")
    edges = _decode_batch(space.edge_space, edges, f"{path}.edges")
    links = _numeric_array(links, np.int64, f"{path}.edge_links")
    if links.size == 0:
        links = links.reshape(0, 2)  # [] reads as shape (0,), an empty edge list is (0, 2)
    return spaces.GraphInstance(nodes, edges, links)


def _decode_batch(space, data, path):
    """``data`` as a batch of members of ``space``, laid out as gymnasium's
    ``batch_space`` lays it out (Graph nodes and edges, stacked sequences)."""
    return decode_value(batch_space(space, _batch_length(space, data, path)), data, path)


def _batch_length(space, data, path):
    if isinstance(space, spaces.Dict) and len(space.spaces):
        if not isinstance(data, dict) or set(data) != {str(key) for key in space.spaces}:
            raise DecodeError(path, f"expected an object with keys {[str(key) for key in space.spaces]}, got {_short(data)}")
        key = next(iter(space.spaces))
        return _batch_length(space.spaces[key], data[str(key)], f"{path}.{key}")
    if isinstance(space, spaces.Tuple) and len(space.spaces):
        if not isinstance(data, list) or len(data) != len(space.spaces):
            raise DecodeError(path, f"expected a list of {len(space.spaces)} batches, got {_short(data)}")
        return _batch_length(space.spaces[0], data[0], f"{path}[0]")
    # Arrays batch along their first axis; other spaces batch as a list of members.
    if not isinstance(data, list):
        raise DecodeError(path, f"expected a list of values of {summarize_space(space)}, got {_short(data)}")
    return len(data)


def _decode_unknown(space, data, path):
    # A space class this codec does not know (minigrid's MissionSpace): the
    # JSON value as it is, which the space's own contains() accepts or refuses.
    return data


def _decode_one_of(space, data, path):
    if not isinstance(data, list) or len(data) != 2:
        raise DecodeError(path, f"expected [index, value] with an index below {len(space.spaces)}, got {_short(data)}")
    index = _to_int(data[0], f"{path}[0]")
    if not 0 <= index < len(space.spaces):
        raise DecodeError(f"{path}[0]", f"expected an index below {len(space.spaces)}")
    return (np.int64(index), decode_value(space.spaces[index], data[1], f"{path}[1]"))


_DECODERS = {
    spaces.Box: _decode_box,
    spaces.Discrete: _decode_discrete,
    spaces.MultiDiscrete: _decode_multi,
    spaces.MultiBinary: _decode_multi,
    spaces.Text: _decode_text,
    spaces.Tuple: _decode_tuple,
    spaces.Dict: _decode_dict,
    spaces.Sequence: _decode_sequence,
    spaces.Graph: _decode_graph,
    spaces.OneOf: _decode_one_of,
}
