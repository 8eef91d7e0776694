"""Legacy mode: space descriptions under "info", sampling and membership."""

import numpy as np
import pytest
from gymapi_client.spaces import describe_space
from gymnasium import spaces

from envs.legacy.services import legacy_info


@pytest.fixture
def cartpole(legacy):
    return legacy.create("CartPole-v1")


def test_it_describes_a_discrete_action_space(legacy, cartpole):
    response = legacy.get(f"/v1/envs/{cartpole}/action_space/")

    assert response.status_code == 200
    info = response.json()["info"]
    assert info["name"] == "Discrete"
    assert info["n"] == 2


def test_it_describes_a_box_with_flat_finite_bounds(legacy, cartpole):
    info = legacy.get(f"/v1/envs/{cartpole}/observation_space/").json()["info"]

    assert info["name"] == "Box"
    assert info["shape"] == [4]
    # CartPole's velocities are unbounded: written as +-1e100, numbers every JSON reader takes.
    assert info["high"] == [pytest.approx(4.8), 1e100, pytest.approx(0.41887903), 1e100]
    assert info["low"] == [-value for value in info["high"]]


def test_it_flattens_the_bounds_of_a_box_of_any_shape():
    box = spaces.Box(low=np.float32([[0, -np.inf], [1, 2]]), high=np.float32([[1, 0], [np.inf, 3]]))

    info = legacy_info(describe_space(box))

    assert info["shape"] == [2, 2]
    assert info["low"] == [0.0, -1e100, 1.0, 2.0]
    assert info["high"] == [1.0, 0.0, 1e100, 3.0]


def test_it_describes_the_spaces_inside_a_tuple(legacy):
    instance_id = legacy.create("Blackjack-v1")

    info = legacy.get(f"/v1/envs/{instance_id}/observation_space/").json()["info"]

    assert info["name"] == "Tuple"
    assert [(space["name"], space["n"]) for space in info["spaces"]] == [("Discrete", 32), ("Discrete", 11), ("Discrete", 2)]


def test_it_describes_boxes_nested_in_a_dict_with_flat_bounds():
    space = spaces.Dict({"position": spaces.Box(-np.inf, np.inf, shape=(1, 2))})

    info = legacy_info(describe_space(space))

    assert info["spaces"]["position"]["low"] == [-1e100, -1e100]


def test_it_samples_an_action(legacy, cartpole):
    response = legacy.get(f"/v1/envs/{cartpole}/action_space/sample")

    assert response.status_code == 200
    assert response.json()["action"] in (0, 1)


def test_it_samples_a_box_action(legacy):
    instance_id = legacy.create("Pendulum-v1")

    action = legacy.get(f"/v1/envs/{instance_id}/action_space/sample").json()["action"]

    assert len(action) == 1 and -2.0 <= action[0] <= 2.0


@pytest.mark.parametrize("x, member", [("0", True), ("1", True), ("2", False), ("-1", False), ("left", False)])
def test_it_tells_whether_the_action_space_contains_x(legacy, cartpole, x, member):
    response = legacy.get(f"/v1/envs/{cartpole}/action_space/contains/{x}")

    assert response.status_code == 200
    assert response.json() == {"member": member}


@pytest.mark.parametrize("x, member", [("[0.5]", True), ("[2.5]", False), ("[0.5, 0.5]", False)])
def test_it_reads_x_as_json_for_a_box(legacy, x, member):
    instance_id = legacy.create("Pendulum-v1")

    response = legacy.get(f"/v1/envs/{instance_id}/action_space/contains/{x}")

    assert response.json() == {"member": member}


@pytest.mark.parametrize(
    "properties, member",
    [
        ({"name": "Box"}, True),
        ({"name": "Box", "shape": [4]}, True),
        ({"shape": [4], "high": [4.800000190734863, 1e100, 0.41887903213500977, 1e100]}, True),
        ({}, True),
        ({"name": "Discrete"}, False),
        ({"name": "Box", "shape": [3]}, False),
        ({"n": 4}, False),
    ],
)
def test_it_tells_whether_the_observation_space_has_the_given_properties(legacy, cartpole, properties, member):
    response = legacy.post(f"/v1/envs/{cartpole}/observation_space/contains", properties)

    assert response.status_code == 200
    assert response.json() == {"member": member}


def test_it_matches_the_observation_space_against_its_own_info(legacy, cartpole):
    info = legacy.get(f"/v1/envs/{cartpole}/observation_space/").json()["info"]

    assert legacy.post(f"/v1/envs/{cartpole}/observation_space/contains", info).json() == {"member": True}


@pytest.mark.parametrize("body", [None, [1, 2], "Box"])
def test_it_wants_an_object_of_properties(legacy, cartpole, body):
    response = legacy.post(f"/v1/envs/{cartpole}/observation_space/contains", body)

    assert response.status_code == 400
    assert "object" in response.json()["message"]
