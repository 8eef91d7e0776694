"""gymapi_client/spaces.py, the server's side: the one codec between Gymnasium spaces and values and JSON.

Every space class of gymnasium is described as strict JSON that rebuilds it;
its samples survive encode -> JSON text -> decode unchanged (same types,
dtypes and shapes) and are members of the space; a wrong action raises
``DecodeError`` with a message naming what was expected.
"""

import json
import math

import gymnasium
import numpy as np
import pytest
from gymnasium import spaces
from minigrid.core.mission import MissionSpace

# The server's side of the one codec, under the names these tests were written with: descriptions
# that must rebuild, actions decoded and checked, values encoded whatever they hold.
from gymapi_client.spaces import DecodeError, describe_space, encode_float
from gymapi_client.spaces import build_known_space as build_space
from gymapi_client.spaces import decode_checked as decode_value
from gymapi_client.spaces import encode_any as encode_value

INF = math.inf


# --- factories and helpers ---------------------------------------------------


def nested_space():
    """Four levels deep: Dict > Tuple > Dict > Sequence > MultiDiscrete, and more."""
    return spaces.Dict(
        [
            (
                "agent",
                spaces.Tuple(
                    (
                        spaces.Dict(
                            [
                                ("pos", spaces.Box(-INF, INF, (2,), np.float32)),
                                ("trail", spaces.Sequence(spaces.MultiDiscrete([4, 4]))),
                            ]
                        ),
                        spaces.OneOf((spaces.Discrete(3, start=1), spaces.Text(4, charset="nesw"))),
                    )
                ),
            ),
            ("map", spaces.Graph(spaces.Box(0, 1, (2,)), spaces.Discrete(3))),
            ("flags", spaces.MultiBinary([2, 2])),
        ]
    )


# One of each class of gymnasium.spaces, and the variants a codec gets wrong.
SPACES = {
    "box_infinite_bounds": lambda: spaces.Box(-INF, INF, (3,), np.float32),
    "box_mixed_bounds": lambda: spaces.Box(np.array([-INF, 0.0]), np.array([1.0, INF]), dtype=np.float64),
    "box_uint8_image": lambda: spaces.Box(0, 255, (6, 6, 3), np.uint8),
    "box_int_scalar": lambda: spaces.Box(-5, 5, (), np.int64),
    "box_float16": lambda: spaces.Box(-1, 1, (2, 2), np.float16),
    "box_bool": lambda: spaces.Box(0, 1, (3,), np.bool_),
    "discrete": lambda: spaces.Discrete(4),
    "discrete_negative_start": lambda: spaces.Discrete(5, start=-3),
    "discrete_int32": lambda: spaces.Discrete(3, start=10, dtype=np.int32),
    "multi_discrete": lambda: spaces.MultiDiscrete([3, 5, 2]),
    "multi_discrete_2d_start": lambda: spaces.MultiDiscrete([[2, 3], [4, 5]], start=[[1, -1], [0, 100]]),
    "multi_binary": lambda: spaces.MultiBinary(4),
    "multi_binary_2d": lambda: spaces.MultiBinary([2, 3]),
    "text": lambda: spaces.Text(8, min_length=2, charset="xyz01"),
    "tuple": lambda: spaces.Tuple((spaces.Discrete(2), spaces.Box(0, 1, (2,)))),
    "dict_unsorted": lambda: spaces.Dict({"zeta": spaces.Discrete(2), "alpha": spaces.Box(0, 1, (2,))}, sort_keys=False),
    "sequence": lambda: spaces.Sequence(spaces.Discrete(3)),
    "sequence_stacked": lambda: spaces.Sequence(spaces.Box(0, 1, (2,)), stack=True),
    "sequence_stacked_dict": lambda: spaces.Sequence(
        spaces.Dict({"x": spaces.Discrete(3), "y": spaces.Box(0, 1, (2,))}), stack=True
    ),
    "graph": lambda: spaces.Graph(spaces.Box(0, 1, (3,)), spaces.Discrete(4)),
    "graph_without_edge_space": lambda: spaces.Graph(spaces.Discrete(3), None),
    "graph_dict_nodes": lambda: spaces.Graph(spaces.Dict({"kind": spaces.Discrete(3)}), spaces.Box(0, 1, (2,))),
    "one_of": lambda: spaces.OneOf((spaces.Discrete(2), spaces.Box(0, 1, (2,)))),
    "nested": nested_space,
}


def space_of(name, seed=0):
    space = SPACES[name]()
    space.seed(seed)
    return space


def over_the_wire(data):
    """``data`` as a client receives it: strict JSON text (no NaN, no Infinity), parsed."""
    return json.loads(json.dumps(data, allow_nan=False))


def round_trip(space, value):
    return decode_value(space, over_the_wire(encode_value(value)))


def assert_same(decoded, original):
    """Equal values of the same types, dtypes and shapes, at every depth."""
    if isinstance(original, spaces.GraphInstance):
        assert isinstance(decoded, spaces.GraphInstance)
        assert_same(decoded.nodes, original.nodes)
        assert_same(decoded.edges, original.edges)
        if original.edge_links is None:
            assert decoded.edge_links is None
        else:  # links are indices: any integer dtype will do
            assert np.array_equal(decoded.edge_links, original.edge_links)
    elif isinstance(original, np.ndarray):
        assert isinstance(decoded, np.ndarray)
        assert (decoded.dtype, decoded.shape) == (original.dtype, original.shape)
        assert np.array_equal(decoded, original)
    elif isinstance(original, dict):
        assert isinstance(decoded, dict) and list(decoded) == list(original)
        for key in original:
            assert_same(decoded[key], original[key])
    elif isinstance(original, tuple):
        assert isinstance(decoded, tuple) and len(decoded) == len(original)
        for got, expected in zip(decoded, original):
            assert_same(got, expected)
    elif isinstance(original, np.generic) and isinstance(decoded, np.ndarray):
        # A shape-() Box samples numpy scalars; its decoded actions are 0-d arrays.
        assert (decoded.dtype, decoded.shape, decoded) == (original.dtype, (), original)
    elif isinstance(original, np.generic):
        assert type(decoded) is type(original) and decoded == original
    else:
        assert decoded == original


def refusal(space, data):
    """The DecodeError ``data`` raises as an action of ``space``."""
    with pytest.raises(DecodeError) as caught:
        decode_value(space, data)
    return caught.value


class Coin(gymnasium.Space):
    """A space class the codec has never heard of: "heads" or "tails"."""

    def __init__(self):
        super().__init__(shape=None, dtype=None)

    def sample(self, mask=None, probability=None):
        return "heads" if self.np_random.random() < 0.5 else "tails"

    def contains(self, x):
        return isinstance(x, str) and x in ("heads", "tails")


class Bare(gymnasium.Space):
    """An unknown space that never called Space.__init__: no shape, no dtype, no RNG."""

    def __init__(self):
        pass

    def contains(self, x):
        return x == 1


class Fragile(Coin):
    """An unknown space whose contains() raises on anything it did not expect."""

    def contains(self, x):
        return x.startswith("h")


# --- every class --------------------------------------------------------------


def test_it_covers_every_space_class_of_gymnasium():
    classes = {
        getattr(spaces, name) for name in spaces.__all__ if name != "Space" and isinstance(getattr(spaces, name), type)
    }
    classes = {cls for cls in classes if issubclass(cls, gymnasium.Space)}
    covered = set()

    def walk(space):
        covered.add(type(space))
        for sub in getattr(space, "spaces", ()) if not isinstance(space, spaces.Dict) else space.spaces.values():
            walk(sub)
        for attribute in ("feature_space", "node_space", "edge_space"):
            if getattr(space, attribute, None) is not None:
                walk(getattr(space, attribute))

    for factory in SPACES.values():
        walk(factory())
    assert classes <= covered, classes - covered


@pytest.mark.parametrize("name", SPACES)
def test_it_describes_every_space_as_strict_json_that_rebuilds_it(name):
    space = space_of(name)
    description = over_the_wire(describe_space(space))
    assert description["name"] == type(space).__name__
    rebuilt = build_space(description)
    assert rebuilt == space
    assert describe_space(rebuilt) == description


@pytest.mark.parametrize("name", SPACES)
def test_it_round_trips_samples_of_every_space(name):
    space = space_of(name)
    for _ in range(10):
        sample = space.sample()
        decoded = round_trip(space, sample)
        assert space.contains(decoded)
        assert_same(decoded, sample)


# --- descriptions, class by class -----------------------------------------------


def test_it_describes_a_box_with_dtype_shape_and_bounds():
    space = spaces.Box(low=np.array([0, -1]), high=np.array([255, 1]), dtype=np.int16)
    assert describe_space(space) == {"name": "Box", "dtype": "int16", "shape": [2], "low": [0, -1], "high": [255, 1]}


def test_it_spells_infinite_bounds_as_strings_and_reads_them_back():
    space = spaces.Box(np.array([-INF, 0.0], np.float32), np.array([1.0, INF], np.float32), dtype=np.float32)
    description = describe_space(space)
    assert (description["low"], description["high"]) == (["-Infinity", 0.0], [1.0, "Infinity"])
    rebuilt = build_space(over_the_wire(description))
    assert rebuilt.low[0] == -INF and rebuilt.high[1] == INF and rebuilt.dtype == np.float32


def test_it_describes_a_discrete_with_its_start():
    assert describe_space(spaces.Discrete(5, start=-3)) == {"name": "Discrete", "n": 5, "start": -3, "dtype": "int64"}


def test_it_describes_a_multi_discrete_with_nvec_and_start():
    description = describe_space(spaces.MultiDiscrete([[2, 3], [4, 5]], start=[[1, -1], [0, 7]]))
    assert description["nvec"] == [[2, 3], [4, 5]]
    assert description["start"] == [[1, -1], [0, 7]]
    assert description["shape"] == [2, 2]


def test_it_describes_a_multi_binary_of_any_shape():
    assert describe_space(spaces.MultiBinary(3)) == {"name": "MultiBinary", "n": 3, "shape": [3]}
    assert describe_space(spaces.MultiBinary([2, 3])) == {"name": "MultiBinary", "n": [2, 3], "shape": [2, 3]}


def test_it_describes_a_text_with_lengths_and_charset():
    description = describe_space(spaces.Text(8, min_length=2, charset="cab"))
    assert description == {"name": "Text", "min_length": 2, "max_length": 8, "charset": "abc"}


def test_it_keeps_the_order_of_a_dict_s_keys():
    space = spaces.Dict({"zeta": spaces.Discrete(2), "alpha": spaces.Discrete(3)}, sort_keys=False)
    description = over_the_wire(describe_space(space))
    assert description["keys"] == ["zeta", "alpha"]
    assert list(build_space(description).spaces) == ["zeta", "alpha"]
    assert list(round_trip(space, space.sample())) == ["zeta", "alpha"]


def test_it_describes_sequences_graphs_and_one_ofs_by_their_parts():
    assert describe_space(spaces.Sequence(spaces.Discrete(2), stack=True)) == {
        "name": "Sequence",
        "feature_space": {"name": "Discrete", "n": 2, "start": 0, "dtype": "int64"},
        "stack": True,
    }
    graph = describe_space(spaces.Graph(spaces.Discrete(2), None))
    assert graph["node_space"]["name"] == "Discrete" and graph["edge_space"] is None
    one_of = describe_space(spaces.OneOf((spaces.Discrete(2), spaces.Text(3))))
    assert [sub["name"] for sub in one_of["spaces"]] == ["Discrete", "Text"]


def test_it_describes_nested_spaces_at_every_depth():
    description = describe_space(nested_space())
    agent = description["spaces"]["agent"]
    assert agent["name"] == "Tuple"
    trail = agent["spaces"][0]["spaces"]["trail"]
    assert trail["feature_space"] == {"name": "MultiDiscrete", "nvec": [4, 4], "start": [0, 0], "dtype": "int64", "shape": [2]}
    assert agent["spaces"][1]["spaces"][1]["charset"] == "ensw"


# --- spaces the codec does not know ----------------------------------------------


def test_it_describes_an_unknown_space_by_name():
    assert describe_space(Coin()) == {"name": "Coin", "known": False}
    mission = describe_space(MissionSpace(mission_func=lambda: "get to the goal"))
    assert mission["name"] == "MissionSpace" and mission["known"] is False
    over_the_wire(mission)


def test_it_describes_even_a_space_that_skipped_space_init():
    assert describe_space(Bare()) == {"name": "Bare", "known": False}
    assert decode_value(Bare(), 1) == 1


def test_it_describes_an_unknown_space_inside_a_known_one():
    space = spaces.Dict({"coin": Coin(), "n": spaces.Discrete(2)})
    assert describe_space(space)["spaces"]["coin"] == {"name": "Coin", "known": False}


def test_it_refuses_to_rebuild_an_unknown_space():
    with pytest.raises(ValueError, match="Coin"):
        build_space(describe_space(Coin()))


def test_it_decodes_values_of_an_unknown_space_through_its_own_contains():
    mission = MissionSpace(mission_func=lambda: "get to the goal")
    assert decode_value(mission, "get to the goal") == "get to the goal"
    assert "MissionSpace" in refusal(mission, "fly away").message
    assert decode_value(Coin(), "heads") == "heads"
    assert "not in" in refusal(Coin(), ["heads"]).message


def test_it_refuses_a_value_an_unknown_space_s_contains_chokes_on():
    assert decode_value(Fragile(), "heads") == "heads"
    assert "not in" in refusal(Fragile(), 12).message


# --- values to JSON --------------------------------------------------------------


def test_it_spells_non_finite_floats_as_strings():
    assert [encode_float(x) for x in (INF, -INF, math.nan, 1.5)] == ["Infinity", "-Infinity", "NaN", 1.5]
    array = np.array([[INF, -INF], [math.nan, 0.25]], dtype=np.float32)
    assert encode_value(array) == [["Infinity", "-Infinity"], ["NaN", 0.25]]
    # A small vector (checked in Python) and a long one (checked by numpy) alike.
    assert encode_value(np.array([1.5, INF, math.nan, -INF], dtype=np.float32)) == [1.5, "Infinity", "NaN", "-Infinity"]
    assert encode_value(np.array([0.5] * 99 + [math.nan])) == [0.5] * 99 + ["NaN"]
    assert encode_value(np.float32(-INF)) == "-Infinity"
    assert encode_value(np.float64(math.nan)) == "NaN"


def test_it_encodes_info_dicts_as_strict_json():
    info = {
        "distance": np.float64(INF),
        "scores": np.array([1.0, math.nan]),
        "ok": np.bool_(True),
        "count": np.int32(3),
        "pair": (np.int64(1), -INF),
        3: "integer key",
        "label": np.array("abc"),
        "raw": b"\x00\xff",
        "complex": np.array([1 + 2j]),
        "object": object(),
    }
    body = over_the_wire(encode_value(info))
    assert body["distance"] == "Infinity"
    assert body["scores"] == [1.0, "NaN"]
    assert (body["ok"], body["count"], body["pair"]) == (True, 3, [1, "-Infinity"])
    assert body["3"] == "integer key"
    assert body["label"] == "abc"  # a 0-d string array is one string, not its characters
    assert body["raw"] == "\x00\xff"
    assert body["complex"] == ["(1+2j)"]
    assert body["object"].startswith("<object object")


def test_it_encodes_a_graph_by_name():
    space = space_of("graph")
    body = encode_value(space.sample(num_nodes=3, num_edges=2))
    assert set(body) == {"nodes", "edges", "edge_links"}
    assert len(body["nodes"]) == 3 and len(body["edge_links"]) == 2


def test_it_round_trips_graphs_without_edges():
    space = space_of("graph")
    for sample in (space.sample(num_nodes=1, num_edges=0), space.sample(num_nodes=2, num_edges=0)):
        assert encode_value(sample)["edges"] is None
        assert space.contains(round_trip(space, sample))
    empty_edges = {"nodes": [[0.5, 0.5, 0.5]], "edges": [], "edge_links": []}
    decoded = decode_value(space, empty_edges)
    assert decoded.edge_links.shape == (0, 2)


# --- actions into the space's types ---------------------------------------------


def test_it_decodes_a_box_action_into_its_dtype_and_shape():
    action = decode_value(spaces.Box(-1, 1, (2, 2), np.float32), [[0.5, -0.5], [1, 0]])
    assert (type(action), action.dtype, action.shape) == (np.ndarray, np.float32, (2, 2))
    integers = decode_value(spaces.Box(0, 255, (3,), np.uint8), [0, 128.0, 255])
    assert integers.dtype == np.uint8 and integers.tolist() == [0, 128, 255]


def test_it_accepts_a_one_element_action_in_another_layout():
    space = spaces.Box(-2, 2, (1,), np.float32)
    for data in (0.5, [0.5], [[0.5]]):
        assert decode_value(space, data).shape == (1,)


def test_it_accepts_a_flat_list_for_any_shape_but_not_another_nesting():
    space = spaces.Box(0, 1, (2, 2), np.float32)
    assert decode_value(space, [0, 1, 1, 0]).shape == (2, 2)
    with pytest.raises(DecodeError, match=r"expected shape \[2, 2\], got \[4, 1\]"):
        decode_value(space, [[0], [1], [1], [0]])
    with pytest.raises(DecodeError, match="expected shape"):
        decode_value(spaces.Box(0, 1, (4,), np.float32), [[0, 0], [0, 0]])


def test_it_reads_non_finite_strings_where_the_bounds_allow_them():
    action = decode_value(spaces.Box(-INF, INF, (2,), np.float64), ["Infinity", "-Infinity"])
    assert action.tolist() == [INF, -INF]


def test_it_decodes_discrete_actions_into_the_space_dtype():
    action = decode_value(spaces.Discrete(5, start=-3), -3)
    assert type(action) is np.int64 and action == -3
    assert type(decode_value(spaces.Discrete(3, dtype=np.int32), 2.0)) is np.int32


def test_it_decodes_multi_discrete_and_multi_binary_actions_into_arrays():
    multi = decode_value(spaces.MultiDiscrete([3, 3], start=[-1, 5]), [-1, 7])
    assert multi.dtype == np.int64 and multi.tolist() == [-1, 7]
    binary = decode_value(spaces.MultiBinary([2, 2]), [[0, 1], [1, 0]])
    assert binary.dtype == np.int8 and binary.shape == (2, 2)


def test_it_decodes_composite_actions_into_tuples_dicts_and_pairs():
    pair = decode_value(space_of("tuple"), [1, [0.5, 0.5]])
    assert isinstance(pair, tuple) and pair[1].dtype == np.float32
    mapping = decode_value(space_of("dict_unsorted"), {"alpha": [0, 1], "zeta": 1})
    assert list(mapping) == ["zeta", "alpha"]
    index, value = decode_value(space_of("one_of"), [1, [0.25, 0.75]])
    assert type(index) is np.int64 and value.dtype == np.float32


# --- wrong actions -----------------------------------------------------------------

DEEP = 0
for _ in range(5000):
    DEEP = [DEEP]

WRONG_ACTIONS = [
    # (space, data, words the message must contain)
    (spaces.Discrete(2), "1", ["expected an integer", "'1'"]),
    (spaces.Discrete(2), True, ["expected an integer"]),
    (spaces.Discrete(2), 1.5, ["expected an integer"]),
    (spaces.Discrete(2), None, ["expected an integer"]),
    (spaces.Discrete(2), [1], ["expected an integer"]),
    (spaces.Discrete(2), 2, ["not in Discrete(2)"]),
    (spaces.Discrete(2), math.nan, ["expected an integer"]),
    (spaces.Discrete(5, start=-3), 2, ["not in Discrete(5, start=-3)"]),
    (spaces.Discrete(2), 2**70, ["out of the range of int64"]),
    (spaces.Discrete(2), 1e300, ["out of the range of int64"]),
    (spaces.Discrete(2), 10**300, ["out of the range of int64"]),
    (spaces.Discrete(2), DEEP, ["expected an integer"]),
    (spaces.Box(-1, 1, (2,)), [0.5], ["expected shape [2]", "got [1]"]),
    (spaces.Box(-1, 1, (2,)), [[0.5, 0.5], [0.5, 0.5]], ["expected shape [2]"]),
    (spaces.Box(-1, 1, (2,)), [0.5, "a"], ["expected a number", "'a'"]),
    (spaces.Box(-1, 1, (2,)), [True, 0.5], ["expected a number", "True"]),
    (spaces.Box(-1, 1, (2,)), ["NaN", 0.5], ["not in Box"]),
    (spaces.Box(-1, 1, (2,)), [math.nan, 0.5], ["not in Box"]),
    (spaces.Box(-1, 1, (2,)), [2.0, 0.5], ["not in Box"]),
    (spaces.Box(-1, 1, (2,)), "Infinity", ["expected shape [2]"]),
    (spaces.Box(-1, 1, (2,)), {"a": 1}, ["expected a number"]),
    (spaces.Box(-1, 1, (2,)), [[0.1], [0.2, 0.3]], ["cannot be read as an array of float32"]),
    (spaces.Box(-INF, INF, (2,)), [1e300, 0.0], ["out of the range of float32"]),
    (spaces.Box(-INF, INF, (2,)), [10**400, 0.0], ["out of the range of float32"]),
    (spaces.Box(-1, 1, (2,)), DEEP, ["action: expected an array of float32, got lists nested deeper than 64"]),
    (spaces.Box(0, 255, (2,), np.uint8), [256, 0], ["array of uint8"]),
    (spaces.Box(0, 255, (2,), np.uint8), [-1, 0], ["array of uint8"]),
    (spaces.Box(0, 255, (2,), np.uint8), [0.5, 0], ["expected an integer"]),
    (spaces.MultiDiscrete([3, 3]), [1, 3], ["not in MultiDiscrete([3 3])"]),
    (spaces.MultiDiscrete([3, 3]), "ab", ["expected a list of integers"]),
    (spaces.MultiDiscrete([3, 3]), [1, True], ["expected a number"]),
    (spaces.MultiDiscrete([3, 3]), [1, 2**70], ["array of int64"]),
    (spaces.MultiBinary(3), [0, 1, 2], ["not in MultiBinary(3)"]),
    (spaces.MultiBinary(3), [0, 1], ["expected shape [3]"]),
    (spaces.Text(5, charset="abc"), 5, ["expected a string"]),
    (spaces.Text(5, charset="abc"), "abd", ["not in Text"]),
    (spaces.Text(5, charset="abc"), "aaaaaa", ["not in Text"]),
    (spaces.Tuple((spaces.Discrete(2), spaces.Discrete(2))), [1], ["expected a list of 2 values"]),
    (spaces.Tuple((spaces.Discrete(2), spaces.Discrete(2))), DEEP, ["expected a list of 2 values"]),
    (spaces.Dict({"a": spaces.Discrete(2)}), {"b": 1}, ["expected exactly the keys ['a']"]),
    (spaces.Dict({"a": spaces.Discrete(2)}), [1], ["expected an object with keys ['a']"]),
    (spaces.Sequence(spaces.Discrete(2)), "x", ["expected a list of values of Discrete(2)"]),
    (spaces.Sequence(spaces.Discrete(2)), [0, 2], ["not in Discrete(2)"]),
    (spaces.Sequence(spaces.Box(0, 1, (2,)), stack=True), [[0.5, 2.0]], ["not in Box"]),
    (spaces.Graph(spaces.Discrete(3), None), [], ["expected an object with nodes"]),
    (spaces.Graph(spaces.Discrete(3), None), {"nodes": [0, 5]}, ["not in MultiDiscrete"]),
    (spaces.Graph(spaces.Discrete(3), None), {"nodes": [0], "edges": [0], "edge_links": [[0, 0]]}, ["expected null"]),
    (spaces.Graph(spaces.Discrete(3), spaces.Discrete(2)), {"nodes": [0], "edges": [1], "edge_links": [[0, 4]]}, ["not in Graph"]),
    (spaces.OneOf((spaces.Discrete(2), spaces.Discrete(3))), [5, 0], ["expected an index below 2"]),
    (spaces.OneOf((spaces.Discrete(2), spaces.Discrete(3))), 1, ["expected [index, value]"]),
    (spaces.OneOf((spaces.Discrete(2), spaces.Discrete(3))), [0, 2], ["not in Discrete(2)"]),
]


@pytest.mark.parametrize(("space", "data", "words"), WRONG_ACTIONS, ids=lambda x: type(x).__name__)
def test_it_refuses_a_wrong_action_saying_what_was_expected(space, data, words):
    error = refusal(space, data)
    for word in words:
        assert word in str(error), (word, str(error))
    assert len(str(error)) < 300  # a message, not the client's whole payload


def test_it_names_where_in_a_nested_action_the_value_is_wrong():
    space = nested_space()
    action = encode_value(space.sample())
    action["agent"][0]["pos"][1] = "north"
    error = refusal(space, action)
    assert error.path == "action.agent[0].pos[1]"
    assert "expected a number, got 'north'" in error.message
