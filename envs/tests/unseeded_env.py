"""An environment that is not deterministic under replay, for the restart tests:
``gymapi-test/Unseeded-v0`` draws its rewards from Python's own ``random``, which no
seed given to it reaches. Registered on import (GYMAPI_ENV_PACKAGES=envs.tests.unseeded_env)."""

import random

import gymnasium as gym
import numpy as np


class UnseededEnv(gym.Env):
    """Rewards from an unseeded source; episodes never end by themselves."""

    observation_space = gym.spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(1, dtype=np.float32), {}

    def step(self, action):
        return np.zeros(1, dtype=np.float32), random.random(), False, False, {}


if "gymapi-test/Unseeded-v0" not in gym.registry:
    gym.register("gymapi-test/Unseeded-v0", entry_point=UnseededEnv, max_episode_steps=1000, disable_env_checker=True)
