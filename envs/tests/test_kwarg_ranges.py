"""The kwargs that size an environment or scale its work are held to ranges, one
table per family (envs/limits.py, README Limits): outside its range a kwarg is
a 400 naming ``kwargs.<name>`` and the range, on single and vector creation,
and nothing is created. Families are known by their registered entry point."""

import re
from pathlib import Path

import gymnasium as gym
import pytest

from envs import limits
from envs.models import EnvInstance
from envs.runtime import runtime

pytestmark = pytest.mark.django_db

README = Path(__file__).resolve().parent.parent.parent / "README.md"


def lake(rows, columns):
    """A FrozenLake ``desc`` of ``rows`` x ``columns`` letters, S top left, G bottom right."""
    cells = [["F"] * columns for _ in range(rows)]
    cells[0][0], cells[-1][-1] = "S", "G"
    return ["".join(row) for row in cells]


# (env_id, kwarg, a value out of range, words of the expected range)
OUT_OF_RANGE = [
    # MuJoCo: 0 divides by zero at creation, 100,000 frames make a step take seconds.
    ("Hopper-v5", "frame_skip", 0, "an integer from 1 to 25"),
    ("Hopper-v5", "frame_skip", 100_000, "an integer from 1 to 25"),
    ("Ant-v5", "frame_skip", 2.5, "an integer from 1 to 25"),
    ("Hopper-v5", "width", 5000, "an integer from 1 to 2,048"),
    ("Hopper-v5", "height", 100_000, "an integer from 1 to 2,048"),
    ("Humanoid-v5", "width", 0, "an integer from 1 to 2,048"),
    ("Hopper-v5", "max_geom", 100_000_000, "an integer from 1 to 10,000"),
    # A camera the model lacks ends the process (MuJoCo's error handler exits) at the first render.
    ("Reacher-v5", "camera_id", 0, "only -1 on this server, not 0. A camera the model lacks"),
    ("Hopper-v5", "camera_id", 1, "name one with camera_name"),
    ("Hopper-v4", "frame_skip", -3, "an integer from 1 to 25"),
    # ALE: a frameskip of 10**9 makes a step never return.
    ("ALE/Pong-v5", "frameskip", 1_000_000_000, "an integer from 1 to 25"),
    ("ALE/Pong-v5", "frameskip", [1, 1_000_000_000], "an integer from 1 to 25"),
    ("ALE/Pong-v5", "frameskip", True, "an integer from 1 to 25"),
    ("ALE/Pong-v5", "repeat_action_probability", 5, "a number from 0 to 1"),
    ("ALE/Pong-v5", "repeat_action_probability", -0.5, "a number from 0 to 1"),
    ("ALE/Pong-v5", "max_num_frames_per_episode", 0, "an integer from 1 to 1,000,000"),
    ("ALE/Pong-v5", "max_num_frames_per_episode", 10**20, "an integer from 1 to 1,000,000"),
    # MiniGrid: a grid of 16,000 cells a side takes 2 GB, a view of 2,001 cells 677 MB.
    ("MiniGrid-Empty-5x5-v0", "size", 16_000, "an integer from 3 to 64"),
    ("MiniGrid-Empty-5x5-v0", "size", "5", "an integer from 3 to 64"),
    ("MiniGrid-Empty-5x5-v0", "agent_view_size", 2001, "an integer from 3 to 31"),
    ("MiniGrid-Empty-5x5-v0", "tile_size", 4000, "an integer from 1 to 32"),
    ("MiniGrid-Empty-5x5-v0", "max_steps", 0, "an integer from 1 to 100,000"),
    ("MiniGrid-DoorKey-5x5-v0", "width", 1000, "an integer from 3 to 64"),
    ("MiniGrid-DoorKey-5x5-v0", "height", 2, "an integer from 3 to 64"),
    ("MiniGrid-Fetch-5x5-N2-v0", "numObjs", 1000, "an integer from 0 to 32"),
    ("MiniGrid-MultiRoom-N2-S4-v0", "maxNumRooms", 30, "an integer from 1 to 8"),
    ("BabyAI-GoToLocal-v0", "room_size", 200, "an integer from 3 to 16"),
    ("BabyAI-GoToRedBall-v0", "num_dists", 500, "an integer from 0 to 32"),
    # FrozenLake: a 300 x 300 lake takes 243 MB and seconds to build (and over 64 KB, GYMAPI_MAX_KWARGS_BYTES).
    ("FrozenLake-v1", "desc", lake(200, 200), "a list of 1 to 64 strings of one length"),
    ("FrozenLake-v1", "desc", lake(4, 65), "a list of 1 to 64 strings of one length"),
    ("FrozenLake-v1", "desc", ["SFF", "FG"], "a list of 1 to 64 strings of one length"),
    ("FrozenLake-v1", "desc", ["SX", "FG"], "of the letters SFHG"),
    ("FrozenLake-v1", "desc", "SFFG", "a list of 1 to 64 strings of one length"),
    ("FrozenLake-v1", "desc", [], "a list of 1 to 64 strings of one length"),
    ("FrozenLake-v1", "success_rate", 5, "a number from 0 to 1"),
    ("Taxi-v4", "fickle_probability", 1.5, "a number from 0 to 1"),
    ("Taxi-v4", "rainy_probability", -3, "a number from 0 to 1"),
]


def assert_out_of_range(response, name, expected):
    assert response.status_code == 400, response.content
    body = response.json()
    field = f"kwargs.{name}"
    assert list(body["fields"]) == [field] and body["code"] == "out_of_range", body
    assert expected in body["fields"][field][0] and body["detail"].startswith(f"{field}: ")
    assert EnvInstance.objects.count() == 0
    assert runtime.ids() == []


@pytest.mark.parametrize("env_id, name, value, expected", OUT_OF_RANGE)
def test_it_refuses_a_kwarg_out_of_its_range_naming_it_and_the_range(api, env_id, name, value, expected):
    response = api.post("/v1/envs/", {"env_id": env_id, "kwargs": {name: value}})
    assert_out_of_range(response, name, expected)


@pytest.mark.parametrize("env_id, name, value, expected", OUT_OF_RANGE)
def test_it_refuses_it_for_a_vector_instance_too(api, env_id, name, value, expected):
    response = api.post("/v1/vector_envs/", {"env_id": env_id, "num_envs": 2, "kwargs": {name: value}})
    assert_out_of_range(response, name, expected)


@pytest.mark.parametrize(
    "env_id, kwargs",
    [
        ("Hopper-v5", {"frame_skip": 25, "width": 2048, "height": 1, "max_geom": 10_000, "camera_id": -1}),
        ("Hopper-v5", {"frame_skip": 1, "camera_name": "track"}),
        ("MiniGrid-Empty-5x5-v0", {"size": 64, "agent_view_size": 31, "tile_size": 32, "max_steps": 100_000}),
        ("FrozenLake-v1", {"desc": lake(64, 64), "success_rate": 1}),
        ("FrozenLake-v1", {"desc": ["SFHG"], "success_rate": 0.5}),
        ("Taxi-v4", {"fickle_passenger": True, "fickle_probability": 0}),
        ("CartPole-v1", {"sutton_barto_reward": True}),  # a family without a table
    ],
)
def test_it_creates_with_kwargs_at_the_ends_of_their_ranges(api, env_id, kwargs):
    response = api.post("/v1/envs/", {"env_id": env_id, "kwargs": kwargs})
    assert response.status_code == 201, response.content
    instance_id = response.json()["instance_id"]
    assert api.post(f"/v1/envs/{instance_id}/reset/").status_code == 200


@pytest.mark.slow
def test_it_creates_an_atari_environment_at_the_ends_of_its_ranges(api):
    kwargs = {"frameskip": 25, "repeat_action_probability": 1, "max_num_frames_per_episode": 1_000_000}
    response = api.post("/v1/envs/", {"env_id": "ALE/Pong-v5", "kwargs": kwargs})
    assert response.status_code == 201, response.content


gym.register("gymapi-test/RenamedHopper-v0", entry_point="gymnasium.envs.mujoco.hopper_v5:HopperEnv")


def test_it_knows_a_family_by_its_entry_point_not_its_id(api):
    response = api.post("/v1/envs/", {"env_id": "gymapi-test/RenamedHopper-v0", "kwargs": {"frame_skip": 0}})
    assert_out_of_range(response, "frame_skip", "an integer from 1 to 25")


def test_the_readme_lists_every_range():
    text = README.read_text()
    for family, rules in limits.KWARG_RANGES.items():
        for name, rule in rules.items():
            row = re.search(rf"^ *\| [^|]*`{re.escape(family)}`[^|]*\| `{re.escape(name)}` \| ([^|]*) \|", text, re.M)
            assert row is not None, (family, name)
            assert row.group(1).strip() == rule.expected, (family, name, row.group(1))
