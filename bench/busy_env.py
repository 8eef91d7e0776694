"""An environment whose step costs a known amount of CPU, for the Ray runtime's bench rows:
``gymapi-bench/Busy-v0`` with ``step_seconds`` (pure Python, holding the interpreter lock as a
simulator written in Python would). Registered on import (GYMAPI_ENV_PACKAGES=bench.busy_env)."""

import time

import gymnasium as gym


class BusyEnv(gym.Env):
    """Each step spins for ``step_seconds``; episodes never end by themselves."""

    observation_space = gym.spaces.Box(-1.0, 1.0, shape=(4,))
    action_space = gym.spaces.Discrete(2)

    def __init__(self, step_seconds=0.001):
        self.step_seconds = float(step_seconds)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self.observation_space.sample(), {}

    def step(self, action):
        end = time.perf_counter() + self.step_seconds
        while time.perf_counter() < end:
            pass
        return self.observation_space.sample(), 1.0, False, False, {}


if "gymapi-bench/Busy-v0" not in gym.registry:
    gym.register("gymapi-bench/Busy-v0", entry_point=BusyEnv, disable_env_checker=True)
