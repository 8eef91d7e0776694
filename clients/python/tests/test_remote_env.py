"""RemoteEnv against a real server: it behaves as the same environment made in-process."""

import gymnasium as gym
import numpy as np
import pytest
import requests
from gymnasium.utils.env_checker import data_equivalence

from gymapi_client import RemoteEnv, shared_session


def active_ids(url):
    return requests.get(f"{url}/v1/envs/", timeout=10).json()


def plain(data):
    """Scalars as Python floats: in-process environments mix number types freely
    (FrozenLake observes a Python int and rewards an int, Pendulum rewards a
    np.float64), while the client gives every Discrete value the space's dtype
    and every reward a float. Arrays stay as they are."""
    if isinstance(data, (bool, np.bool_)):
        return bool(data)
    if isinstance(data, (int, float, np.integer, np.floating)):
        return float(data)
    if isinstance(data, (tuple, list)):
        return type(data)(plain(item) for item in data)
    if isinstance(data, dict):
        return {key: plain(item) for key, item in data.items()}
    return data


def same(remote_data, local_data):
    """Equal values; arrays of the same dtype and shape, and exactly equal."""
    return data_equivalence(plain(remote_data), plain(local_data), exact=True)


def play(env, actions, seed):
    """Reset with ``seed``, then step through ``actions`` (resetting when an episode ends)."""
    trajectory = [env.reset(seed=seed)]
    for action in actions:
        observation, reward, terminated, truncated, info = env.step(action)
        trajectory.append((observation, reward, terminated, truncated, info))
        if terminated or truncated:
            trajectory.append(env.reset())
    return trajectory


@pytest.mark.parametrize(
    "env_id, actions",
    [
        ("CartPole-v1", [0, 1, 1, 0, 1] * 8),
        ("Pendulum-v1", [np.array([value], dtype=np.float32) for value in np.linspace(-2, 2, 25)]),
        ("FrozenLake-v1", [1, 2, 2, 1, 0, 3, 1, 2] * 4),
        ("Blackjack-v1", [1, 0, 1, 1, 0, 0, 1, 0] * 4),
        ("LunarLander-v3", [0, 2, 1, 3, 2, 2] * 5),
    ],
)
def test_it_plays_exactly_as_the_in_process_environment(remote, env_id, actions):
    env = remote(env_id)
    local = gym.make(env_id)
    try:
        assert env.observation_space == local.observation_space
        assert env.action_space == local.action_space
        for remote_step, local_step in zip(play(env, actions, 42), play(local, actions, 42), strict=True):
            assert same(remote_step, local_step), (remote_step, local_step)
    finally:
        local.close()


def test_it_returns_observations_in_the_spaces_dtype_and_shape(remote):
    env = remote("CartPole-v1")
    observation, info = env.reset(seed=1)
    assert isinstance(observation, np.ndarray) and observation.dtype == np.float32 and observation.shape == (4,)
    assert info == {}
    observation, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert observation.dtype == np.float32 and observation in env.observation_space
    assert type(reward) is float and type(terminated) is bool and type(truncated) is bool


def test_it_returns_tuple_and_dict_observations_as_tuples_and_dicts(remote):
    observation, _ = remote("Blackjack-v1").reset(seed=3)
    assert isinstance(observation, tuple) and all(type(item) is np.int64 for item in observation)

    observation, _ = remote("MiniGrid-Empty-5x5-v0").reset(seed=3)
    assert list(observation) == ["direction", "image", "mission"]
    assert observation["image"].dtype == np.uint8 and observation["image"].shape == (7, 7, 3)
    assert observation["mission"] == "get to the green goal square"


def test_it_seeds_the_first_reset_and_the_action_space_from_the_creation_seed(remote):
    env = remote("CartPole-v1", seed=7)
    local = gym.make("CartPole-v1")
    local.action_space.seed(7)
    assert same(env.reset()[0], local.reset(seed=7)[0])
    assert [env.action_space.sample() for _ in range(20)] == [local.action_space.sample() for _ in range(20)]
    # Later resets continue the stream, as in-process.
    assert same(env.reset()[0], local.reset()[0])


def test_it_gives_np_random_the_semantics_of_super_reset(remote):
    env = remote("CartPole-v1")
    env.reset(seed=123)
    first = env.np_random.bit_generator.state
    env.reset()
    assert env.np_random.bit_generator.state == first
    env.reset(seed=123)
    assert env.np_random.bit_generator.state == first
    env.reset(seed=456)
    assert env.np_random.bit_generator.state != first


def test_it_passes_reset_options_and_constructor_kwargs(remote):
    env = remote("FrozenLake-v1", map_name="8x8", is_slippery=False)
    assert env.observation_space == gym.spaces.Discrete(64)
    env.reset(seed=0)
    assert env.step(2)[0] == 1  # not slippery: right moves right

    env = remote("CartPole-v1")
    observation, _ = env.reset(seed=0, options={"low": -0.01, "high": 0.01})
    assert np.all(np.abs(observation) <= 0.01)


def test_it_truncates_at_max_episode_steps(remote):
    env = remote("CartPole-v1", max_episode_steps=3)
    assert env.spec.max_episode_steps == 3
    env.reset(seed=0)
    assert [env.step(step % 2)[3] for step in range(3)] == [False, False, True]


def test_it_describes_render_modes_and_spec_from_the_server(remote, url):
    env = remote("CartPole-v1")
    # "human" would draw on the server's display, so it is not offered here.
    assert env.metadata == {"render_modes": ["rgb_array"], "render_fps": 50}
    assert env.spec.id == "CartPole-v1"
    assert env.spec.max_episode_steps == 500 and env.spec.reward_threshold == 475.0
    assert env.spec.kwargs["base_url"] == url
    assert env.unwrapped is env and isinstance(env, gym.Env)
    assert env.instance_id in repr(env)


def test_it_makes_another_instance_from_its_spec(remote, url):
    env = remote("FrozenLake-v1", is_slippery=False)
    other = env.spec.make(render_mode="ansi")
    try:
        assert isinstance(other.unwrapped, RemoteEnv) and other.unwrapped.instance_id != env.instance_id
        assert other.unwrapped.render_mode == "ansi"
        assert other.unwrapped.server_info["kwargs"] == {"is_slippery": False}
        other.reset(seed=0)
        assert "F" in other.render()
    finally:
        other.close()
    assert other.unwrapped.instance_id not in active_ids(url)


def test_it_deletes_the_instance_on_close_once(remote, url):
    env = remote("CartPole-v1")
    assert env.instance_id in active_ids(url)
    env.close()
    assert env.closed and env.instance_id not in active_ids(url)
    env.close()  # again: nothing happens


def test_it_closes_when_a_with_block_ends(url):
    with RemoteEnv(url, "CartPole-v1") as env:
        env.reset(seed=0)
        assert env.instance_id in active_ids(url)
    assert env.instance_id not in active_ids(url)


def test_it_closes_quietly_an_instance_closed_elsewhere(remote, url):
    env = remote("CartPole-v1")
    assert requests.delete(f"{url}/v1/envs/{env.instance_id}/", timeout=10).status_code == 200
    env.close()
    assert env.closed


def test_it_shares_one_keep_alive_session(remote, url):
    first, second = remote("CartPole-v1"), remote("CartPole-v1")
    assert first._http is second._http is shared_session()

    own = requests.Session()
    env = remote("CartPole-v1", session=own)
    assert env._http is own and env.spec.entry_point.session is own
    env.reset(seed=0)
    for _ in range(5):
        env.step(0)
    # One connection, kept alive, served every call of this env.
    pools = own.get_adapter(url).poolmanager.pools
    (pool,) = [pools[key] for key in pools.keys()]
    assert pool.num_connections == 1 and pool.num_requests >= 10


def test_it_continues_the_stream_after_a_first_reset_with_its_own_seed(remote):
    env = remote("CartPole-v1", seed=7)
    local = gym.make("CartPole-v1")
    assert same(env.reset(seed=5)[0], local.reset(seed=5)[0])
    assert same(env.reset()[0], local.reset()[0])
