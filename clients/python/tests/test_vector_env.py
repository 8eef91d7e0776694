"""RemoteVectorEnv against a real server: it behaves as gym.make_vec's vector environment in-process."""

import gymnasium as gym
import numpy as np
import pytest
import requests
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.wrappers.vector import RecordEpisodeStatistics

from gymapi_client import InstanceGone, InvalidRequest, RemoteVectorEnv, ResetNeeded


@pytest.fixture
def remote_vector(url):
    """``remote_vector(env_id, num_envs, **options)``; all are closed afterwards."""
    created = []

    def make(env_id="CartPole-v1", num_envs=4, **options):
        envs = RemoteVectorEnv(url, env_id, num_envs, **options)
        created.append(envs)
        return envs

    yield make
    for envs in created:
        envs.close()


def assert_same_batch(remote, local):
    """Two batched five-tuples (or reset pairs): equal values, observations of the same dtype and shape."""
    assert remote[0].dtype == local[0].dtype and remote[0].shape == local[0].shape
    np.testing.assert_array_equal(remote[0], local[0])
    if len(remote) == 5:
        np.testing.assert_array_equal(remote[1], np.asarray(local[1], dtype=np.float64))
        np.testing.assert_array_equal(remote[2], local[2])
        np.testing.assert_array_equal(remote[3], local[3])
        assert remote[2].dtype == remote[3].dtype == np.bool_
    assert remote[-1].keys() == local[-1].keys()


@pytest.mark.parametrize(
    "env_id, num_envs, options",
    [("CartPole-v1", 8, {}), ("Pendulum-v1", 3, {"max_episode_steps": 6}), ("FrozenLake-v1", 4, {"is_slippery": True})],
)
def test_it_plays_exactly_as_make_vec_in_process(remote_vector, env_id, num_envs, options):
    envs = remote_vector(env_id, num_envs, **options)
    local = gym.make_vec(env_id, num_envs, **options)
    assert_same_batch(envs.reset(seed=123), local.reset(seed=123))
    local.action_space.seed(7)
    ended = 0
    for _ in range(60):
        actions = local.action_space.sample()
        remote_step = envs.step(actions)
        assert_same_batch(remote_step, local.step(actions))
        ended += int(np.sum(remote_step[2] | remote_step[3]))
    assert ended >= num_envs  # sub-environments reset themselves along the way
    local.close()


def test_it_is_a_vector_env_with_the_servers_spaces(remote_vector):
    envs = remote_vector("Pendulum-v1", 5)
    local = gym.make_vec("Pendulum-v1", 5)
    assert isinstance(envs, VectorEnv)
    assert envs.num_envs == 5
    assert envs.single_action_space == local.single_action_space
    assert envs.single_observation_space == local.single_observation_space
    assert envs.action_space == local.action_space
    assert envs.observation_space == local.observation_space
    assert envs.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert envs.metadata["vectorization_mode"] == "sync"
    assert "5 x Pendulum-v1" in repr(envs)


def test_it_seeds_the_first_reset_and_the_action_space_with_the_creation_seed(remote_vector):
    envs = remote_vector("CartPole-v1", 6, seed=99)
    local = gym.make_vec("CartPole-v1", 6)
    assert_same_batch(envs.reset(), local.reset(seed=99))
    assert_same_batch(envs.reset(), local.reset())  # the creation seed is spent
    again = remote_vector("CartPole-v1", 6, seed=99)
    np.testing.assert_array_equal(envs.action_space.sample(), again.action_space.sample())


def test_it_takes_a_list_of_actions_as_well_as_a_batch(remote_vector):
    envs = remote_vector("CartPole-v1", 3)
    local = gym.make_vec("CartPole-v1", 3)
    envs.reset(seed=1)
    local.reset(seed=1)
    assert_same_batch(envs.step([0, 1, np.int64(1)]), local.step(np.array([0, 1, 1])))


def test_gymnasiums_vector_wrappers_work_on_it(remote_vector):
    envs = RecordEpisodeStatistics(remote_vector("CartPole-v1", 4))
    local = RecordEpisodeStatistics(gym.make_vec("CartPole-v1", 4))
    envs.reset(seed=3)
    local.reset(seed=3)
    returns = []
    for _ in range(30):
        _, _, _, _, info = envs.step(np.zeros(4, dtype=np.int64))
        _, _, _, _, local_info = local.step(np.zeros(4, dtype=np.int64))
        assert ("episode" in info) == ("episode" in local_info)
        if "episode" in info:
            np.testing.assert_array_equal(info["episode"]["r"], local_info["episode"]["r"])
            np.testing.assert_array_equal(info["episode"]["l"], local_info["episode"]["l"])
            returns.extend(info["episode"]["r"][info["_episode"]].tolist())
    assert len(returns) >= 4


def test_it_raises_the_servers_errors(remote_vector, url):
    envs = remote_vector("CartPole-v1", 2)
    with pytest.raises(ResetNeeded):
        envs.step(np.array([0, 1]))
    envs.reset(seed=0)
    with pytest.raises(InvalidRequest) as raised:
        envs.step(np.array([0, 2]))
    assert raised.value.fields == {"action[1]": ["2 is not in Discrete(2)"]}
    with pytest.raises(InvalidRequest) as raised:
        RemoteVectorEnv(url, "CartPole-v1", 300)
    assert "num_envs" in raised.value.fields


def test_close_deletes_the_instance_and_can_be_called_twice(url):
    with RemoteVectorEnv(url, "CartPole-v1", 2) as envs:
        envs.reset(seed=0)
        instance_id = envs.instance_id
        assert instance_id in requests.get(f"{url}/v1/vector_envs/", timeout=10).json()
    assert envs.closed
    assert requests.get(f"{url}/v1/vector_envs/{instance_id}/", timeout=10).status_code == 410
    envs.close()
    fresh = RemoteVectorEnv(url, "CartPole-v1", 2)
    requests.delete(f"{url}/v1/vector_envs/{fresh.instance_id}/", timeout=10)
    with pytest.raises(InstanceGone):
        fresh.reset()
    fresh.close()  # already gone on the server: nothing to do, no error
