"""Gymnasium's and Stable-Baselines3's environment checkers accept RemoteEnv.

Render checks are not skipped: check_env renders the instance and makes one
more through ``env.spec.make(render_mode=...)`` for each of its render modes.
"""

import warnings

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

from gymapi_client import RemoteEnv

ENV_IDS = ["CartPole-v1", "Pendulum-v1", "FrozenLake-v1", "Blackjack-v1", "LunarLander-v3", "MiniGrid-Empty-5x5-v0"]


def warnings_of(check, *args, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check(*args, **kwargs)
    return {str(warning.message) for warning in caught if not issubclass(warning.category, DeprecationWarning)}


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_it_passes_gymnasiums_check_env(remote, env_id):
    remote_warnings = warnings_of(check_env, remote(env_id))

    # Its only warnings are the environment's own, which it also gets in-process
    # (CartPole's infinite bounds, Pendulum's unnormalized actions...).
    local = gym.make(env_id).unwrapped
    try:
        local_warnings = warnings_of(check_env, local, skip_render_check=True)  # "human" would open a window
    finally:
        local.close()
    assert remote_warnings <= local_warnings


@pytest.mark.parametrize("render_mode", ["rgb_array", "ansi"])
def test_it_passes_check_env_while_rendering(remote, render_mode):
    env = remote("FrozenLake-v1", render_mode=render_mode)
    assert warnings_of(check_env, env) == set()


def test_it_passes_stable_baselines3_check_env(remote):
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    env = remote("CartPole-v1", render_mode="rgb_array")
    assert isinstance(env, RemoteEnv)
    # SB3's own default, skip_render_check=True: its render check calls env.close()
    # and then goes on stepping the env, which a closed RemoteEnv (deleted on the
    # server) refuses with InstanceGone. Gymnasium's check_env above renders.
    assert warnings_of(sb3_check_env, env, warn=True) == set()
