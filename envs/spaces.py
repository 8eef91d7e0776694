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
"""

import math

import numpy as np
from gymnasium import spaces

NON_FINITE = {"Infinity": math.inf, "-Infinity": -math.inf, "NaN": math.nan}


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
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        return _replace_non_finite(array.tolist())
    if array.dtype.kind in "biuf":
        return array.tolist()
    if array.dtype.kind == "c":
        raise TypeError("complex arrays have no JSON form")
    return [encode_value(item) for item in array.tolist()]


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
    if isinstance(value, (list, tuple)):
        return [encode_value(item) for item in value]
    if isinstance(value, spaces.GraphInstance):
        return {
            "nodes": encode_value(value.nodes),
            "edges": encode_value(value.edges),
            "edge_links": encode_value(value.edge_links),
        }
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
    if space.shape is not None:
        description["shape"] = list(space.shape)
    if space.dtype is not None:
        description["dtype"] = str(space.dtype)
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
        return spaces.Dict({key: build_space(description["spaces"][key]) for key in description["keys"]})
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
    decode = None
    for cls, candidate in _DECODERS.items():
        if isinstance(space, cls):
            decode = candidate
            break
    if decode is None:
        raise DecodeError(path, f"values of a {type(space).__name__} space cannot be sent over JSON")
    value = decode(space, data, path)
    try:
        member = space.contains(value)
    except Exception:  # a malformed value may trip the space's own checks
        member = False
    if not member:
        raise DecodeError(path, f"{_short(data)} is not in {summarize_space(space)}")
    return value


def _short(data):
    text = repr(data)
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

    def clean(item, where):
        if isinstance(item, list):
            return [clean(sub, f"{where}[{index}]") for index, sub in enumerate(item)]
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
        return item

    try:
        return np.array(clean(data, path), dtype=dtype)
    except (ValueError, OverflowError, TypeError) as error:
        raise DecodeError(path, f"cannot be read as an array of {dtype}: {error}") from None


def _shaped(array, shape, path, space):
    if array.shape == shape:
        return array
    if array.size == int(np.prod(shape)):
        # A flat list or a bare number for a one-element space: accept it in
        # the space's shape, as older clients send Pendulum actions as 0.5.
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
        raise DecodeError(path, f"{value} is out of the range of {dtype}")
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
        raise DecodeError(path, f"expected a list of {len(space.spaces)} values")
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
    if not isinstance(data, list):
        raise DecodeError(path, "expected a list")
    items = tuple(decode_value(space.feature_space, item, f"{path}[{i}]") for i, item in enumerate(data))
    if space.stack:
        from gymnasium.vector.utils import concatenate, create_empty_array

        out = create_empty_array(space.feature_space, n=len(items))
        return concatenate(space.feature_space, items, out)
    return items


def _decode_graph(space, data, path):
    if not isinstance(data, dict) or not {"nodes", "edge_links"} <= set(data):
        raise DecodeError(path, "expected an object with nodes, edges and edge_links")
    nodes = _numeric_array(data["nodes"], space.node_space.dtype, f"{path}.nodes")
    if space.edge_space is None:
        edges = None
    else:
        edges = _numeric_array(data.get("edges"), space.edge_space.dtype, f"{path}.edges")
    links = _numeric_array(data["edge_links"], np.dtype(np.int64), f"{path}.edge_links")
    return spaces.GraphInstance(nodes, edges, links)


def _decode_one_of(space, data, path):
    if not isinstance(data, list) or len(data) != 2:
        raise DecodeError(path, "expected [index, value]")
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
