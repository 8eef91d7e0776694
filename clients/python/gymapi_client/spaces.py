"""The one codec between Gymnasium spaces and values and JSON, the server's and the client's.

The gymapi server imports this module too (it installs this package), so both
ends of the wire follow the same rules from the same code:

- A space is described as a JSON object with a ``name`` (the class name) and
  the properties needed to rebuild it, nested to any depth.
- A value (observation, info, action, sample) becomes plain JSON: arrays
  become nested lists, numpy scalars become numbers, tuples become lists.
  Non-finite floats become the strings ``"Infinity"``, ``"-Infinity"`` and
  ``"NaN"`` so that every body is strict JSON.
- A space class the codec does not know (minigrid's ``MissionSpace``) is
  described by its name with ``"known": false``; its values go through as
  JSON, for the space's own ``contains`` to accept or refuse.

Each direction has a side that trusts and a side that does not:

- What the server sends: spaces through ``describe_space``, values through
  ``encode_any``, which never fails (an info dict may hold anything). A client
  reads them back with ``build_space``, which keeps an unknown class as an
  ``UnknownSpace``, and ``decode_value``, which gives values the space's own
  types and trusts the server's environment to have produced them.
- What a client sends (actions, membership candidates, keyword arguments):
  through ``encode_value``, which refuses what JSON cannot carry. The server
  reads an action with ``decode_checked``: into the space's own types, dtype
  and shape, checked with ``space.contains`` before an environment ever sees
  it, or a ``DecodeError`` naming where it went wrong.
"""

import math
import reprlib
from functools import partial

import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils import batch_space

NON_FINITE = {"Infinity": math.inf, "-Infinity": -math.inf, "NaN": math.nan}

# numpy arrays have at most 64 dimensions; JSON nested deeper than that can be
# no array, and walking it would only risk Python's recursion limit.
MAX_DEPTH = 64


class UnknownSpace(spaces.Space):
    """A space whose class the codec does not know (e.g. MiniGrid's
    ``MissionSpace``), so it cannot be rebuilt here.

    It keeps the server's ``name`` and, when given, ``shape`` and ``dtype``.
    Values of it arrive as plain JSON (a string for a mission) and are passed on
    as they are; ``contains`` accepts any such value (the server, which holds
    the real space, is the judge), and ``sample`` is not possible.
    """

    def __init__(self, name, shape=None, dtype=None, description=None):
        super().__init__(shape=None if shape is None else tuple(shape), dtype=dtype)
        self.name = name
        self.description = dict(description or {"name": name, "known": False})

    @property
    def is_np_flattenable(self):
        return False

    def sample(self, mask=None, probability=None):
        raise NotImplementedError(
            f"{self.name} is not a space class the server can describe, so this client cannot sample it"
        )

    def contains(self, x):
        if x is None:
            return False
        if self.shape is not None and isinstance(x, np.ndarray):
            return x.shape == self.shape
        return True

    def __repr__(self):
        return f"UnknownSpace({self.name!r})"

    def __eq__(self, other):
        return isinstance(other, UnknownSpace) and self.description == other.description


# --- values to JSON ---------------------------------------------------------


def encode_float(value):
    """A float as JSON: itself when finite, else the seed's string spelling."""
    value = float(value)
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _replace_non_finite(items):
    if isinstance(items, list):
        return [_replace_non_finite(item) for item in items]
    return encode_float(items)


def _spelled(value):
    # Info dicts may carry arbitrary objects; a readable string beats a crash.
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return repr(value)


def _refused(value):
    raise TypeError(f"{type(value).__name__} values cannot be sent as JSON")


def encode_value(value):
    """A value (an action, a membership candidate, keyword arguments) as strict JSON.

    A value JSON cannot carry raises ``TypeError``: sent as its ``repr``, it
    would reach the server as a string it could only misread.
    """
    return encode_any(value, _refused)


def encode_any(value, unknown=_spelled):
    """Turn any observation, action, sample or info value into plain JSON.

    What JSON cannot carry is given to ``unknown``; by default bytes become a
    latin-1 string and anything else its ``repr``, so that an answer with an
    odd info value never fails. The server encodes what it sends with this.
    """
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return encode_float(value)
    if isinstance(value, np.ndarray):
        return _encode_array(value, unknown)
    if isinstance(value, np.generic):
        if isinstance(value, np.floating):
            return encode_float(value)
        if isinstance(value, np.bool_):
            return bool(value)
        if isinstance(value, np.integer):
            return int(value)
        return encode_any(value.item(), unknown)
    # Loops, not comprehensions: on Python 3.11 a comprehension using ``unknown``
    # makes it a closure cell, created on every call, the hot path's too.
    if isinstance(value, dict):
        encoded = {}
        for key, item in value.items():
            encoded[str(key)] = encode_any(item, unknown)
        return encoded
    # Before tuples: a GraphInstance is a NamedTuple, and the decoder reads it by name.
    if isinstance(value, spaces.GraphInstance):
        return {
            "nodes": encode_any(value.nodes, unknown),
            "edges": encode_any(value.edges, unknown),
            "edge_links": encode_any(value.edge_links, unknown),
        }
    if isinstance(value, (list, tuple)):
        encoded = []
        for item in value:
            encoded.append(encode_any(item, unknown))
        return encoded
    return unknown(value)


def _encode_array(array, unknown):
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
    return encode_any(array.tolist(), unknown)


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
        "low": encode_any(space.low),
        "high": encode_any(space.high),
    }


def _describe_discrete(space):
    return {"n": int(space.n), "start": int(space.start), "dtype": str(space.dtype)}


def _describe_multi_discrete(space):
    return {
        "nvec": encode_any(space.nvec),
        "start": encode_any(space.start),
        "dtype": str(space.dtype),
        "shape": list(space.shape),
    }


def _describe_multi_binary(space):
    n = space.n
    return {"n": int(n) if np.ndim(n) == 0 else encode_any(np.asarray(n)), "shape": list(space.shape)}


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


# --- descriptions to spaces ---------------------------------------------------


def build_space(description):
    """A Gymnasium space from ``describe_space``'s description of it.

    Classes the server marks ``"known": false``, and names this codec does not
    know, become an ``UnknownSpace`` rather than an error, so an environment
    with one exotic part is still usable.
    """
    return _build(description, _placeholder)


def build_known_space(description):
    """As ``build_space``, but a class the codec cannot rebuild raises ``ValueError``
    instead of becoming a placeholder: for checking that a description rebuilds its space."""
    return _build(description, _cannot_rebuild)


def _placeholder(description):
    return UnknownSpace(description.get("name") or "?", description.get("shape"), description.get("dtype"), description)


def _cannot_rebuild(description):
    raise ValueError(f"cannot rebuild a {description.get('name')} space")


def _build(description, unknown):
    build = _BUILDERS.get(description.get("name"))
    if build is None or description.get("known") is False:
        return unknown(description)
    # Nested descriptions are rebuilt under the same rule for unknown classes.
    return build(description, partial(_build, unknown=unknown))


def _numbers(items):
    """JSON numbers with the codec's spelling of non-finite floats read back."""
    if isinstance(items, list):
        return [_numbers(item) for item in items]
    if isinstance(items, str):
        return NON_FINITE.get(items, items)
    return items


def _box(d, build):
    dtype = np.dtype(d["dtype"])
    return spaces.Box(
        low=np.asarray(_numbers(d["low"]), dtype=dtype),
        high=np.asarray(_numbers(d["high"]), dtype=dtype),
        shape=tuple(d["shape"]),
        dtype=dtype,
    )


def _discrete(d, build):
    return spaces.Discrete(int(d["n"]), start=int(d.get("start", 0)), dtype=d.get("dtype", "int64"))


def _multi_discrete(d, build):
    return spaces.MultiDiscrete(
        np.asarray(d["nvec"]), dtype=d.get("dtype", "int64"), start=np.asarray(d.get("start", 0))
    )


def _multi_binary(d, build):
    n = d["n"]
    return spaces.MultiBinary(n if isinstance(n, int) else list(n))


def _text(d, build):
    return spaces.Text(max_length=d["max_length"], min_length=d["min_length"], charset=d["charset"])


def _tuple(d, build):
    return spaces.Tuple([build(sub) for sub in d["spaces"]])


def _dict(d, build):
    keys = d.get("keys") or list(d["spaces"])
    # Pairs, not a dict: Dict would sort a dict's keys, losing the described order.
    return spaces.Dict([(key, build(d["spaces"][key])) for key in keys])


def _sequence(d, build):
    return spaces.Sequence(build(d["feature_space"]), stack=bool(d.get("stack", False)))


def _graph(d, build):
    edge = d.get("edge_space")
    return spaces.Graph(build(d["node_space"]), None if edge is None else build(edge))


def _one_of(d, build):
    return spaces.OneOf([build(sub) for sub in d["spaces"]])


_BUILDERS = {
    "Box": _box,
    "Discrete": _discrete,
    "MultiDiscrete": _multi_discrete,
    "MultiBinary": _multi_binary,
    "Text": _text,
    "Tuple": _tuple,
    "Dict": _dict,
    "Sequence": _sequence,
    "Graph": _graph,
    "OneOf": _one_of,
}


# --- JSON from the server to values ---------------------------------------------


def decode_value(space, data):
    """JSON ``data`` from the server (an observation, a sampled action) as a value of
    ``space``, in the space's own types: numpy arrays of its dtype and shape, numpy
    integers for ``Discrete``, tuples for ``Tuple``, dicts in its key order for ``Dict``.

    Not checked against the space: the server's environment produced it, and
    an observation a little outside its declared bounds is still the observation.
    """
    if isinstance(space, spaces.Box):
        return np.asarray(_numbers(data), dtype=space.dtype).reshape(space.shape)
    if isinstance(space, spaces.Discrete):
        return space.dtype.type(data)
    if isinstance(space, (spaces.MultiDiscrete, spaces.MultiBinary)):
        return np.asarray(data, dtype=space.dtype).reshape(space.shape)
    if isinstance(space, spaces.Text):
        return str(data)
    if isinstance(space, spaces.Tuple):
        return tuple(decode_value(sub, item) for sub, item in zip(space.spaces, data, strict=True))
    if isinstance(space, spaces.Dict):
        return {key: decode_value(sub, data[str(key)]) for key, sub in space.spaces.items()}
    if isinstance(space, spaces.Sequence):
        if space.stack:
            return _decode_trusted_batch(space.feature_space, data)
        return tuple(decode_value(space.feature_space, item) for item in data)
    if isinstance(space, spaces.Graph):
        nodes = _decode_trusted_batch(space.node_space, data["nodes"])
        if data.get("edges") is None and data.get("edge_links") is None:
            return spaces.GraphInstance(nodes, None, None)
        edges = _decode_trusted_batch(space.edge_space, data["edges"])
        # int32, as Gymnasium's own Graph.sample gives them.
        links = np.asarray(data["edge_links"], dtype=np.int32).reshape((-1, 2))
        return spaces.GraphInstance(nodes, edges, links)
    if isinstance(space, spaces.OneOf):
        index = int(data[0])
        return (np.int64(index), decode_value(space.spaces[index], data[1]))
    return data  # an UnknownSpace: plain JSON, as the server sent it


def _decode_trusted_batch(space, data):
    """``data`` as a batch of members of ``space``, in ``decode_value``'s trust."""
    return decode_value(_batch_space_of(space, data, "observation"), data)


# --- JSON from a client to actions -------------------------------------------------


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


def decode_checked(space, data, path="action"):
    """Decode JSON ``data`` into a member of ``space``, or raise ``DecodeError``.

    The value gets the space's own types (numpy arrays of the space's dtype and
    shape, numpy integers for ``Discrete``, tuples for ``Tuple``...) and is
    checked with ``space.contains``. ``path`` names the value in errors.
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
        raise DecodeError(path, f"{short_repr(data)} is not in {summarize_space(space)}")
    return value


_REPR = reprlib.Repr()  # Python 3.11's Repr takes no keyword arguments
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict, _REPR.maxstring, _REPR.maxlong = 3, 8, 8, 60, 40


def short_repr(data):
    """A client's value, shortened for an error message."""
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
        raise DecodeError(path, f"expected an integer, got {short_repr(data)}")
    if isinstance(data, float):
        if not data.is_integer():
            raise DecodeError(path, f"expected an integer, got {short_repr(data)}")
        data = int(data)
    return data


def _numeric_array(data, dtype, path, shape=None):
    """Nested JSON lists to a numpy array of ``dtype``, refusing anything odd; with ``shape``,
    refusing more numbers than it holds before reading them (their count is the sender's choice)."""
    dtype = np.dtype(dtype)
    largest = float(np.finfo(dtype).max) if dtype.kind == "f" else None
    # Lists and numbers together: an array of n numbers in any nesting has fewer than 2n + depth.
    most = None if shape is None else 2 * int(np.prod(shape)) + MAX_DEPTH
    count = 0

    def clean(item, where, depth):
        nonlocal count
        if isinstance(item, list):
            if depth >= MAX_DEPTH:
                # Named at the top: a path of 64 "[0]"s would tell the client nothing.
                raise DecodeError(path, f"expected an array of {dtype}, got lists nested deeper than {MAX_DEPTH}")
            if most is not None:
                count += len(item)
                if count > most:
                    raise DecodeError(path, f"expected shape {list(shape)}, got far more values than it holds")
            return [clean(sub, f"{where}[{index}]", depth + 1) for index, sub in enumerate(item)]
        if isinstance(item, bool):
            if dtype.kind == "b":
                return item
            raise DecodeError(where, f"expected a number, got {short_repr(item)}")
        if dtype.kind in "iu":
            return _to_int(item, where)
        if isinstance(item, str) and item in NON_FINITE and dtype.kind == "f":
            return NON_FINITE[item]
        if not _is_number(item):
            raise DecodeError(where, f"expected a number, got {short_repr(item)}")
        if largest is not None and (isinstance(item, int) or math.isfinite(item)) and abs(item) > largest:
            # numpy would quietly store it as an infinity the client never sent.
            raise DecodeError(where, f"{short_repr(item)} is out of the range of {dtype}")
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
    array = _numeric_array(data, space.dtype, path, space.shape)
    return _shaped(array, space.shape, path, space)


def _decode_discrete(space, data, path):
    value = _to_int(data, path)
    return space.dtype.type(_in_dtype_range(value, space.dtype, path))


def _in_dtype_range(value, dtype, path):
    info = np.iinfo(dtype)
    if not info.min <= value <= info.max:
        raise DecodeError(path, f"{short_repr(value)} is out of the range of {dtype}")
    return value


def _decode_multi(space, data, path):
    if _is_number(data) or isinstance(data, bool):
        data = [data]
    if not isinstance(data, list):
        raise DecodeError(path, f"expected a list of integers, got {short_repr(data)}")
    array = _numeric_array(data, space.dtype, path, space.shape)
    return _shaped(array, space.shape, path, space)


def _decode_text(space, data, path):
    if not isinstance(data, str):
        raise DecodeError(path, f"expected a string, got {short_repr(data)}")
    return data


def _decode_tuple(space, data, path):
    if not isinstance(data, list) or len(data) != len(space.spaces):
        raise DecodeError(path, f"expected a list of {len(space.spaces)} values, got {short_repr(data)}")
    return tuple(
        decode_checked(sub, item, f"{path}[{i}]") for i, (sub, item) in enumerate(zip(space.spaces, data))
    )


def _decode_dict(space, data, path):
    if not isinstance(data, dict):
        raise DecodeError(path, f"expected an object with keys {list(space.spaces)}")
    expected = {str(key): key for key in space.spaces}
    if set(data) != set(expected):
        raise DecodeError(path, f"expected exactly the keys {list(expected)}, got {list(data)}")
    return {
        expected[key]: decode_checked(space.spaces[expected[key]], data[key], f"{path}.{key}") for key in expected
    }


def _decode_sequence(space, data, path):
    if space.stack:
        # Stacked items come in gymnasium's batch layout: one array for a Box
        # feature, but an object of arrays for a Dict feature.
        return _decode_batch(space.feature_space, data, path)
    if not isinstance(data, list):
        raise DecodeError(
            path, f"expected a list of values of {summarize_space(space.feature_space)}, got {short_repr(data)}"
        )
    return tuple(decode_checked(space.feature_space, item, f"{path}[{i}]") for i, item in enumerate(data))


def _decode_graph(space, data, path):
    if not isinstance(data, dict) or "nodes" not in data:
        raise DecodeError(path, f"expected an object with nodes, edges and edge_links, got {short_repr(data)}")
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
    """``data`` as a checked batch of members of ``space``."""
    return decode_checked(_batch_space_of(space, data, path), data, path)


def _batch_space_of(space, data, path):
    """The space of ``data`` read as a batch of members of ``space``, laid out as
    gymnasium's ``batch_space`` lays it out (Graph nodes and edges, stacked
    sequences): one array for a Box or Discrete, an object of batches for a
    Dict, a list of batches for a Tuple."""
    return batch_space(space, _batch_length(space, data, path))


def _batch_length(space, data, path):
    if isinstance(space, spaces.Dict) and len(space.spaces):
        if not isinstance(data, dict) or set(data) != {str(key) for key in space.spaces}:
            raise DecodeError(
                path, f"expected an object with keys {[str(key) for key in space.spaces]}, got {short_repr(data)}"
            )
        key = next(iter(space.spaces))
        return _batch_length(space.spaces[key], data[str(key)], f"{path}.{key}")
    if isinstance(space, spaces.Tuple) and len(space.spaces):
        if not isinstance(data, list) or len(data) != len(space.spaces):
            raise DecodeError(path, f"expected a list of {len(space.spaces)} batches, got {short_repr(data)}")
        return _batch_length(space.spaces[0], data[0], f"{path}[0]")
    # Arrays batch along their first axis; other spaces batch as a list of members.
    if not isinstance(data, list):
        raise DecodeError(path, f"expected a list of values of {summarize_space(space)}, got {short_repr(data)}")
    return len(data)


def _decode_unknown(space, data, path):
    # A space class this codec does not know (minigrid's MissionSpace): the
    # JSON value as it is, which the space's own contains() accepts or refuses.
    return data


def _decode_one_of(space, data, path):
    if not isinstance(data, list) or len(data) != 2:
        raise DecodeError(
            path, f"expected [index, value] with an index below {len(space.spaces)}, got {short_repr(data)}"
        )
    index = _to_int(data[0], f"{path}[0]")
    if not 0 <= index < len(space.spaces):
        raise DecodeError(f"{path}[0]", f"expected an index below {len(space.spaces)}")
    return (np.int64(index), decode_checked(space.spaces[index], data[1], f"{path}[1]"))


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
