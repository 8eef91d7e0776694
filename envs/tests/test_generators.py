"""The generator's state saved before an unseeded reset: kept small, given back whole."""

import gymnasium as gym
import numpy as np
import pytest

from envs.runtime.generators import generator_state, restore_generator, unpacked


def draws(env, count=5):
    return env.unwrapped.np_random.random(count).tolist()


def test_pcg64_state_is_kept_packed_and_unpacks_to_numpys_own_state():
    env = gym.make("CartPole-v1")
    env.reset(seed=3)
    env.unwrapped.np_random.random()  # mid-stream
    saved = generator_state(env)
    assert isinstance(saved, bytes) and len(saved) < 64
    assert unpacked(saved) == env.unwrapped.np_random.bit_generator.state


@pytest.mark.parametrize("packed", [True, False])
def test_a_restored_generator_draws_what_the_saved_one_would_have(packed):
    env, twin = gym.make("FrozenLake-v1"), gym.make("FrozenLake-v1")
    env.reset()
    saved = generator_state(env)
    restore_generator(twin, saved if packed else unpacked(saved))
    assert draws(twin) == draws(env)


def test_another_bit_generator_is_kept_as_numpy_gives_it():
    env = gym.make("CartPole-v1")
    env.unwrapped.np_random = np.random.Generator(np.random.MT19937(7))
    saved = generator_state(env)
    assert isinstance(saved, dict) and saved["bit_generator"] == "MT19937" and unpacked(saved) is saved
    twin = gym.make("CartPole-v1")
    restore_generator(twin, saved)
    assert draws(twin) == draws(env)


def test_a_generator_mid_way_through_a_32_bit_draw_is_given_back_exactly():
    env, twin = gym.make("CartPole-v1"), gym.make("CartPole-v1")
    env.reset(seed=5)
    env.unwrapped.np_random.integers(0, 10, dtype=np.uint32)  # leaves half a 64-bit word buffered
    saved = generator_state(env)
    assert unpacked(saved)["has_uint32"] == 1
    restore_generator(twin, saved)
    assert [env.unwrapped.np_random.integers(0, 2**32, dtype=np.uint32) for _ in range(3)] == [
        twin.unwrapped.np_random.integers(0, 2**32, dtype=np.uint32) for _ in range(3)
    ]
