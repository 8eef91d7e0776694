"""An environment served over /v1/envs/ behaves exactly as ``gymnasium.make`` in-process.

For each family (classic control, toy text, Box2D, MuJoCo, Atari, MiniGrid):
same seeds and same actions give the same observations, rewards, terminated,
truncated and info, bit for bit once the JSON is decoded with the codec, and
the space routes describe the environment's own spaces.
"""

import gymnasium as gym
import numpy as np
import pytest

# The server's side of the one codec: observations decoded and checked, values encoded as the server sends them.
from gymapi_client.spaces import build_space, describe_space
from gymapi_client.spaces import decode_checked as decode_value
from gymapi_client.spaces import encode_any as encode_value

# Box2D's SWIG bindings warn on import, in whichever test imports them first.
pytestmark = pytest.mark.filterwarnings("ignore:builtin type (SwigPy|swigvarlink):DeprecationWarning")

SEED = 7

# (env_id, number of actions). Heavy ones take fewer: the whole file stays well under a minute.
ENVS = [
    pytest.param("CartPole-v1", 50, id="CartPole-v1"),
    pytest.param("Pendulum-v1", 50, id="Pendulum-v1"),
    pytest.param("MountainCarContinuous-v0", 50, id="MountainCarContinuous-v0"),
    pytest.param("FrozenLake-v1", 50, id="FrozenLake-v1"),
    pytest.param("Taxi-v4", 50, id="Taxi-v4"),
    pytest.param("Blackjack-v1", 50, id="Blackjack-v1"),
    pytest.param("MiniGrid-Empty-5x5-v0", 50, id="MiniGrid-Empty-5x5-v0"),
    pytest.param("LunarLander-v3", 40, id="LunarLander-v3", marks=pytest.mark.slow),
    pytest.param("CarRacing-v3", 20, id="CarRacing-v3", marks=pytest.mark.slow),
    pytest.param("HalfCheetah-v5", 30, id="HalfCheetah-v5", marks=pytest.mark.slow),
    pytest.param("ALE/Pong-v5", 20, id="ALE/Pong-v5", marks=pytest.mark.slow),
]


def sampled_actions(env, count):
    """``count`` actions from the environment's own action space, seeded."""
    space = env.action_space
    space.seed(SEED)
    return [space.sample() for _ in range(count)]


def play_in_process(env, actions):
    """Reset with SEED, take ``actions`` (resetting with SEED + n after each
    episode's end); returns the resets and steps as ("reset", obs, info) and
    ("step", obs, reward, terminated, truncated, info) rows."""
    episodes = 0
    rows = [("reset", *env.reset(seed=SEED))]
    for action in actions:
        observation, reward, terminated, truncated, info = env.step(action)
        rows.append(("step", observation, float(reward), bool(terminated), bool(truncated), info))
        if terminated or truncated:
            episodes += 1
            rows.append(("reset", *env.reset(seed=SEED + episodes)))
    return rows


def play_over_api(api, instance_id, observation_space, actions):
    """The same play through the API, observations decoded by the codec."""

    def post(route, body):
        response = api.post(f"/v1/envs/{instance_id}/{route}/", body)
        assert response.status_code == 200, response.content
        return response.json()

    def observation(body):
        return decode_value(observation_space, body["observation"], "observation")

    episodes = 0
    body = post("reset", {"seed": SEED})
    rows = [("reset", observation(body), body["info"])]
    for action in actions:
        body = post("step", {"action": encode_value(action)})
        assert body["done"] is (body["terminated"] or body["truncated"])
        rows.append(("step", observation(body), body["reward"], body["terminated"], body["truncated"], body["info"]))
        if body["done"]:
            episodes += 1
            body = post("reset", {"seed": SEED + episodes})
            rows.append(("reset", observation(body), body["info"]))
    return rows


def assert_same_observation(served, local):
    """Equal at every depth, each leaf with the same dtype and shape."""
    if isinstance(local, dict):
        # Decoded dicts follow the space's key order; MiniGrid's own dict does not.
        assert set(served) == set(local)
        for key in local:
            assert_same_observation(served[key], local[key])
    elif isinstance(local, tuple):
        assert isinstance(served, tuple) and len(served) == len(local)
        for got, expected in zip(served, local):
            assert_same_observation(got, expected)
    else:
        served, local = np.asarray(served), np.asarray(local)
        assert (served.dtype, served.shape) == (local.dtype, local.shape)
        assert np.array_equal(served, local)


@pytest.mark.parametrize(("env_id", "count"), ENVS)
def test_it_plays_exactly_as_gymnasium_make(api, make_instance, env_id, count):
    instance_id = make_instance(env_id, seed=SEED)
    env = gym.make(env_id)
    try:
        actions = sampled_actions(env, count)
        local = play_in_process(env, actions)
        served = play_over_api(api, instance_id, env.observation_space, actions)
    finally:
        env.close()

    assert [row[0] for row in served] == [row[0] for row in local]
    for number, (got, expected) in enumerate(zip(served, local)):
        assert_same_observation(got[1], expected[1])
        assert got[2:-1] == expected[2:-1], f"row {number}: reward, terminated, truncated"
        assert got[-1] == encode_value(expected[-1]), f"row {number}: info"


@pytest.mark.parametrize(("env_id", "count"), ENVS)
def test_it_describes_the_environment_s_own_spaces(api, make_instance, env_id, count):
    instance_id = make_instance(env_id, seed=SEED, reset=True)
    env = gym.make(env_id)
    try:
        for which, space in (("action_space", env.action_space), ("observation_space", env.observation_space)):
            response = api.get(f"/v1/envs/{instance_id}/{which}/")
            assert response.status_code == 200
            assert response.json() == describe_space(space)
            if isinstance(space, gym.spaces.Dict) and "mission" in space.spaces:  # MiniGrid's MissionSpace: by name
                assert response.json()["spaces"]["mission"] == {"name": "MissionSpace", "known": False, "dtype": "<U0"}
            else:
                assert build_space(response.json()) == space
        observation, _ = env.reset(seed=SEED)
    finally:
        env.close()
    response = api.post(f"/v1/envs/{instance_id}/observation_space/contains/", {"x": encode_value(observation)})
    assert response.json() == {"member": True}
