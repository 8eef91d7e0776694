"""Environments that misbehave on purpose, registered as ``gymapi-test/...`` on import:
for the tests of broken, hung and slow-to-build environments (README, Limits), and of one
that replays differently (README, Restarts)."""

import os
import random
import threading

import gymnasium as gym


class FragileEnv(gym.Env):
    """Never ends an episode by itself. Steps fine with action 0 and raises with 1;
    its reset refuses options it does not know (ValueError), and raises anyway when
    built with ``fail_reset``; its render always raises."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}
    observation_space = gym.spaces.Discrete(1_000_000)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, render_mode=None, fail_reset=False):
        self.render_mode = render_mode
        self.fail_reset = fail_reset
        self.steps = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        unknown = sorted(set(options or {}) - {"start"})
        if unknown:
            raise ValueError(f"unknown options {unknown}")
        if self.fail_reset:
            raise RuntimeError("the simulator would not start")
        self.steps = (options or {}).get("start", 0)
        return self.steps, {}

    def step(self, action):
        if action == 1:
            raise RuntimeError("physics exploded")
        self.steps += 1
        return self.steps, 1.0, False, False, {}

    def render(self):
        raise RuntimeError("no display")


class HangingEnv(FragileEnv):
    """Action 1 hangs: it sets ``entered`` and waits for ``release`` (at most a minute)."""

    entered = threading.Event()
    release = threading.Event()

    def step(self, action):
        if action == 1:
            HangingEnv.entered.set()
            HangingEnv.release.wait(60)
        return super().step(0)


class SlowToBuildEnv(FragileEnv):
    """Its constructor sets ``entered`` and waits for ``release`` (at most a minute)."""

    entered = threading.Event()
    release = threading.Event()

    def __init__(self, render_mode=None):
        super().__init__(render_mode)
        SlowToBuildEnv.entered.set()
        SlowToBuildEnv.release.wait(60)


class AbortingEnv(FragileEnv):
    """Action 1 aborts the whole process it runs in, as a native library's failed assertion does."""

    def step(self, action):
        if action == 1:
            os.abort()
        return super().step(0)


class UnseededEnv(FragileEnv):
    """Rewards drawn from Python's own ``random``, which no seed given to the environment
    reaches: the same actions from the same seed come to another return."""

    def step(self, action):
        observation, _, terminated, truncated, info = super().step(0)
        return observation, random.random(), terminated, truncated, info


for _name, _entry_point in (
    ("Fragile", FragileEnv), ("Hanging", HangingEnv), ("SlowToBuild", SlowToBuildEnv), ("Aborting", AbortingEnv),
    ("Unseeded", UnseededEnv),
):
    if f"gymapi-test/{_name}-v0" not in gym.registry:
        gym.register(f"gymapi-test/{_name}-v0", entry_point=_entry_point, disable_env_checker=True)


def reset_events(*classes):
    """Clear the classes' events; returns a function that releases whatever still waits."""
    for cls in classes:
        cls.entered.clear()
        cls.release.clear()

    def release():
        for cls in classes:
            cls.release.set()

    return release
