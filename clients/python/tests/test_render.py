"""render(): rgb_array frames as arrays (the same pixels as in-process), ANSI text, lists of either."""

import gymnasium as gym
import numpy as np
import pytest


def test_it_renders_an_rgb_array_frame_equal_to_the_in_process_one(remote):
    env = remote("CartPole-v1", render_mode="rgb_array")
    local = gym.make("CartPole-v1", render_mode="rgb_array")
    try:
        env.reset(seed=4)
        local.reset(seed=4)
        for action in (0, 1, 1):
            env.step(action)
            local.step(action)
        frame, expected = env.render(), local.render()
    finally:
        local.close()
    assert isinstance(frame, np.ndarray) and frame.dtype == np.uint8
    assert frame.shape == expected.shape == (400, 600, 3)
    assert np.array_equal(frame, expected)  # PNG is lossless
    frame[0, 0] = 0  # the caller's own copy


@pytest.mark.parametrize("env_id, shape", [("LunarLander-v3", (400, 600, 3)), ("MiniGrid-Empty-5x5-v0", (160, 160, 3))])
def test_it_renders_frames_of_the_environments_shape(remote, env_id, shape):
    env = remote(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    assert env.render().shape == shape


def test_it_renders_ansi_text(remote):
    env = remote("FrozenLake-v1", render_mode="ansi")
    local = gym.make("FrozenLake-v1", render_mode="ansi")
    env.reset(seed=0)
    local.reset(seed=0)
    assert env.render() == local.render()
    assert env.metadata["render_modes"] == ["ansi", "rgb_array"]


def test_it_renders_the_frames_collected_in_list_modes(remote):
    env = remote("CartPole-v1", render_mode="rgb_array_list")
    env.reset(seed=0)
    env.step(0)
    env.step(1)
    frames = env.render()
    assert len(frames) == 3 and all(frame.shape == (400, 600, 3) for frame in frames)
    assert env.render() == []  # handed over once, as Gymnasium does


def test_it_warns_and_returns_none_without_a_render_mode(remote):
    env = remote("CartPole-v1")
    env.reset(seed=0)
    with pytest.warns(UserWarning, match="render_mode"):
        assert env.render() is None
