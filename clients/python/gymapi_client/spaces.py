"""The client's half of the server's JSON codec (``envs/spaces.py`` on the server).

- ``build_space`` turns a space description (``GET .../action_space/``) back
  into a real Gymnasium space: every class the server describes, nested to any
  depth. A class the server does not know arrives as ``{"name", "known": false}``
  and becomes an ``UnknownSpace``.
- ``decode_value`` turns JSON from the server (an observation, a sampled
  action) into the space's own types: numpy arrays of the space's dtype and
  shape, numpy integers for ``Discrete``, tuples for ``Tuple``, dicts in the
  space's key order for ``Dict``.
- ``encode_value`` turns a value (an action) into strict JSON: arrays become
  nested lists, tuples lists, and non-finite floats the strings
  ``"Infinity"``, ``"-Infinity"`` and ``"NaN"``.
"""

import math

import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils import batch_space

NON_FINITE = {"Infinity": math.inf, "-Infinity": -math.inf, "NaN": math.nan}


class UnknownSpace(spaces.Space):
    """A space whose class the server's codec does not know (e.g. MiniGrid's
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


# --- descriptions to spaces ----------------------------------------------------


def _numbers(items):
    """JSON numbers with the server's spelling of non-finite floats read back."""
    if isinstance(items, list):
        return [_numbers(item) for item in items]
    if isinstance(items, str):
        return NON_FINITE.get(items, items)
    return items


def _box(d):
    dtype = np.dtype(d["dtype"])
    return spaces.Box(
        low=np.asarray(_numbers(d["low"]), dtype=dtype),
        high=np.asarray(_numbers(d["high"]), dtype=dtype),
        shape=tuple(d["shape"]),
        dtype=dtype,
    )


def _discrete(d):
    return spaces.Discrete(int(d["n"]), start=int(d.get("start", 0)), dtype=d.get("dtype", "int64"))


def _multi_discrete(d):
    return spaces.MultiDiscrete(
        np.asarray(d["nvec"]), dtype=d.get("dtype", "int64"), start=np.asarray(d.get("start", 0))
    )


def _multi_binary(d):
    n = d["n"]
    return spaces.MultiBinary(n if isinstance(n, int) else list(n))


def _text(d):
    return spaces.Text(max_length=d["max_length"], min_length=d["min_length"], charset=d["charset"])


def _tuple(d):
    return spaces.Tuple([build_space(sub) for sub in d["spaces"]])


def _dict(d):
    keys = d.get("keys") or list(d["spaces"])
    # Pairs, not a dict: Dict would sort a dict's keys, losing the server's order.
    return spaces.Dict([(key, build_space(d["spaces"][key])) for key in keys])


def _sequence(d):
    return spaces.Sequence(build_space(d["feature_space"]), stack=bool(d.get("stack", False)))


def _graph(d):
    edge = d.get("edge_space")
    return spaces.Graph(build_space(d["node_space"]), None if edge is None else build_space(edge))


def _one_of(d):
    return spaces.OneOf([build_space(sub) for sub in d["spaces"]])


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


def build_space(description):
    """A Gymnasium space from the server's description of it.

    Classes the server marks ``"known": false``, and names this client does not
    know, become an ``UnknownSpace`` rather than an error, so an environment
    with one exotic part is still usable.
    """
    name = description.get("name")
    build = _BUILDERS.get(name)
    if build is None or description.get("known") is False:
        return UnknownSpace(name or "?", description.get("shape"), description.get("dtype"), description)
    return build(description)


# --- JSON to values ------------------------------------------------------------


def decode_value(space, data):
    """JSON ``data`` from the server as a value of ``space``, in the space's own types."""
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
            return _decode_batch(space.feature_space, data)
        return tuple(decode_value(space.feature_space, item) for item in data)
    if isinstance(space, spaces.Graph):
        nodes = _decode_batch(space.node_space, data["nodes"])
        if data.get("edges") is None and data.get("edge_links") is None:
            return spaces.GraphInstance(nodes, None, None)
        edges = _decode_batch(space.edge_space, data["edges"])
        # int32, as Gymnasium's own Graph.sample gives them.
        links = np.asarray(data["edge_links"], dtype=np.int32).reshape((-1, 2))
        return spaces.GraphInstance(nodes, edges, links)
    if isinstance(space, spaces.OneOf):
        index = int(data[0])
        return (np.int64(index), decode_value(space.spaces[index], data[1]))
    return data  # an UnknownSpace: plain JSON, as the server sent it


def _decode_batch(space, data):
    """``data`` as a batch of members of ``space`` in Gymnasium's ``batch_space`` layout,
    as stacked sequences and graph nodes and edges come: one array for a Box or
    Discrete, an object of batches for a Dict, a list of batches for a Tuple."""
    return decode_value(batch_space(space, _batch_length(space, data)), data)


def _batch_length(space, data):
    if isinstance(space, spaces.Dict) and len(space.spaces):
        key = next(iter(space.spaces))
        return _batch_length(space.spaces[key], data[str(key)])
    if isinstance(space, spaces.Tuple) and len(space.spaces):
        return _batch_length(space.spaces[0], data[0])
    return len(data)


# --- values to JSON ------------------------------------------------------------


def encode_float(value):
    value = float(value)
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _non_finite_spelled(items):
    if isinstance(items, list):
        return [_non_finite_spelled(item) for item in items]
    return encode_float(items)


def encode_value(value):
    """A value (an action, a membership candidate) as strict JSON."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return encode_float(value)
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f":
            return _non_finite_spelled(value.tolist()) if not np.isfinite(value).all() else value.tolist()
        if value.dtype.kind in "biu":
            return value.tolist()
        return [encode_value(item) for item in value]
    if isinstance(value, np.generic):
        if isinstance(value, np.floating):
            return encode_float(value)
        return encode_value(value.item())
    if isinstance(value, dict):
        return {str(key): encode_value(item) for key, item in value.items()}
    # Before tuples: a GraphInstance is a NamedTuple, and the server reads it by name.
    if isinstance(value, spaces.GraphInstance):
        return {
            "nodes": encode_value(value.nodes),
            "edges": encode_value(value.edges),
            "edge_links": encode_value(value.edge_links),
        }
    if isinstance(value, (list, tuple)):
        return [encode_value(item) for item in value]
    raise TypeError(f"{type(value).__name__} values cannot be sent as JSON")
