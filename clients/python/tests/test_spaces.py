"""The client's side of the one codec (gymapi_client/spaces.py) against the server's side:
every space class the server describes is rebuilt equal, and values cross the wire both ways
unchanged. The codec needs neither Django nor the server's code."""

import json
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import data_equivalence

from gymapi_client import UnknownSpace, build_space, decode_value, encode_value
from gymapi_client.spaces import decode_checked, describe_space, encode_any

# What the server does with the same module: describe its spaces, encode what it sends, check actions.
server_codec = SimpleNamespace(describe_space=describe_space, encode_value=encode_any, decode_value=decode_checked)

EVERY_CLASS = {
    "box": spaces.Box(low=-1.0, high=2.0, shape=(2, 3), dtype=np.float32),
    "box_infinite": spaces.Box(
        low=np.array([-np.inf, 0.0, -1.0]), high=np.array([np.inf, np.inf, 1.0]), dtype=np.float64
    ),
    "box_uint8_image": spaces.Box(0, 255, shape=(4, 5, 3), dtype=np.uint8),
    "box_int_scalar": spaces.Box(-3, 3, shape=(), dtype=np.int32),
    "discrete": spaces.Discrete(5),
    "discrete_start": spaces.Discrete(3, start=-1),
    "multi_discrete": spaces.MultiDiscrete([3, 4, 2]),
    "multi_discrete_start": spaces.MultiDiscrete([[2, 3], [4, 5]], start=[[1, 0], [-2, 5]]),
    "multi_binary": spaces.MultiBinary(4),
    "multi_binary_shaped": spaces.MultiBinary([2, 3]),
    "text": spaces.Text(max_length=6, min_length=1, charset="abcXYZ"),
    "tuple": spaces.Tuple([spaces.Discrete(2), spaces.Box(-1, 1, shape=(2,))]),
    "dict": spaces.Dict(
        [("position", spaces.Box(-1, 1, shape=(2,))), ("kind", spaces.Discrete(3)), ("flags", spaces.MultiBinary(2))]
    ),
    "sequence": spaces.Sequence(spaces.Box(0, 1, shape=(2,)), stack=False),
    "sequence_stacked": spaces.Sequence(spaces.Discrete(4), stack=True),
    "sequence_stacked_dicts": spaces.Sequence(
        spaces.Dict({"x": spaces.Box(-1, 1, shape=(2,)), "n": spaces.Discrete(3)}), stack=True
    ),
    "graph": spaces.Graph(node_space=spaces.Box(-1, 1, shape=(3,)), edge_space=spaces.Discrete(4)),
    "graph_no_edges": spaces.Graph(node_space=spaces.Discrete(5), edge_space=None),
    "one_of": spaces.OneOf([spaces.Discrete(3), spaces.Box(-1, 1, shape=(2,))]),
    "nested": spaces.Dict(
        {
            "inner": spaces.Tuple([spaces.Dict({"a": spaces.Discrete(2)}), spaces.MultiDiscrete([2, 2])]),
            "items": spaces.Sequence(spaces.Tuple([spaces.Discrete(2), spaces.Text(3)])),
        }
    ),
}


def over_the_wire(data):
    """What a value becomes on its way through a strict JSON body."""
    return json.loads(json.dumps(data, allow_nan=False))


def sample(space, seed):
    """A seeded sample; 0-d Box samples as 0-d arrays, the form observations take here
    (Gymnasium samples integer ones as numpy scalars, float ones as 0-d arrays)."""
    space.seed(seed)
    value = space.sample()
    return np.asarray(value) if isinstance(space, spaces.Box) else value


def described(space):
    return over_the_wire(server_codec.describe_space(space))


@pytest.mark.parametrize("name", EVERY_CLASS)
def test_it_rebuilds_every_space_class_the_server_describes(name):
    space = EVERY_CLASS[name]
    rebuilt = build_space(described(space))
    assert type(rebuilt) is type(space)
    assert rebuilt == space


def test_it_keeps_box_dtypes_and_infinite_bounds():
    rebuilt = build_space(described(EVERY_CLASS["box_infinite"]))
    assert rebuilt.dtype == np.float64
    assert rebuilt.low.tolist() == [-np.inf, 0.0, -1.0]
    assert rebuilt.high.tolist() == [np.inf, np.inf, 1.0]
    assert build_space(described(EVERY_CLASS["box_uint8_image"])).dtype == np.uint8


def test_it_keeps_discrete_and_multi_discrete_starts():
    assert build_space(described(spaces.Discrete(3, start=-1))).start == -1
    rebuilt = build_space(described(EVERY_CLASS["multi_discrete_start"]))
    assert rebuilt.start.tolist() == [[1, 0], [-2, 5]]


def test_it_keeps_dict_keys_in_the_servers_order():
    description = described(EVERY_CLASS["dict"])
    assert description["keys"] == ["position", "kind", "flags"]  # not sorted
    description["spaces"] = dict(reversed(list(description["spaces"].items())))  # an unordered reader
    assert list(build_space(description).spaces) == ["position", "kind", "flags"]


@pytest.mark.parametrize("name", EVERY_CLASS)
def test_it_decodes_the_servers_values_into_the_spaces_types(name):
    space = EVERY_CLASS[name]
    value = sample(space, 7)
    rebuilt = build_space(described(space))
    decoded = decode_value(rebuilt, over_the_wire(server_codec.encode_value(value)))
    assert data_equivalence(decoded, value, exact=True), (decoded, value)
    assert rebuilt.contains(decoded)


@pytest.mark.parametrize("name", EVERY_CLASS)
def test_it_encodes_values_the_server_decodes_unchanged(name):
    space = EVERY_CLASS[name]
    value = sample(space, 11)
    decoded = server_codec.decode_value(space, over_the_wire(encode_value(value)))
    if isinstance(decoded, spaces.GraphInstance) and decoded.edge_links is not None:
        # The server reads edge links as int64; Gymnasium samples them as int32.
        decoded = decoded._replace(edge_links=decoded.edge_links.astype(value.edge_links.dtype))
    assert data_equivalence(decoded, value, exact=True), (decoded, value)


def test_it_spells_non_finite_floats_as_the_server_does():
    value = np.array([1.5, np.inf, -np.inf, np.nan], dtype=np.float32)
    assert encode_value(value) == server_codec.encode_value(value) == [1.5, "Infinity", "-Infinity", "NaN"]
    assert encode_value({"reward": float("inf"), "pair": (np.int64(2), np.bool_(True))}) == {
        "reward": "Infinity",
        "pair": [2, True],
    }
    box = spaces.Box(-np.inf, np.inf, shape=(4,), dtype=np.float32)
    decoded = decode_value(box, [1.5, "Infinity", "-Infinity", "NaN"])
    assert decoded.dtype == np.float32 and np.isnan(decoded[3]) and decoded[1] == np.inf


def test_it_refuses_values_json_cannot_carry():
    with pytest.raises(TypeError, match="object"):
        encode_value(object())


def test_it_keeps_a_class_the_server_does_not_know_as_a_placeholder():
    from minigrid.core.mission import MissionSpace

    mission = MissionSpace(mission_func=lambda: "get to the green goal square")
    description = described(spaces.Dict({"mission": mission, "direction": spaces.Discrete(4)}))
    rebuilt = build_space(description)

    placeholder = rebuilt["mission"]
    assert isinstance(placeholder, UnknownSpace) and placeholder.name == "MissionSpace"
    assert "MissionSpace" in repr(rebuilt)
    value = decode_value(rebuilt, {"mission": "get to the green goal square", "direction": 2})
    assert value == {"direction": np.int64(2), "mission": "get to the green goal square"}
    assert rebuilt.contains(value)
    with pytest.raises(NotImplementedError, match="MissionSpace"):
        placeholder.sample()


def test_it_keeps_an_unknown_name_with_its_shape_and_dtype():
    placeholder = build_space({"name": "FancySpace", "known": False, "shape": [2], "dtype": "float32"})
    assert isinstance(placeholder, UnknownSpace)
    assert placeholder.shape == (2,) and placeholder.dtype == np.float32
    assert placeholder.contains(np.zeros(2)) and not placeholder.contains(np.zeros(3))
    # A name newer than this client, even without "known": false, is no crash either.
    assert isinstance(build_space({"name": "FromTheFuture", "n": 3}), UnknownSpace)


def test_it_imports_without_django_or_the_server():
    # The client is pip-installed where neither exists; None in sys.modules makes an import fail.
    blocked = ["django", "rest_framework", "channels", "envs", "gymapi", "monitor"]
    code = f"import sys; sys.modules.update(dict.fromkeys({blocked!r})); import gymapi_client, gymapi_client.spaces"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
