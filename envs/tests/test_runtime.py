"""envs.runtime: the one home of live environments, one thread at a time per instance."""

import threading
import time

import gymnasium as gym
import numpy as np
import pytest

from envs.errors import EnvError, ResetNeeded
from envs.runtime import SINGLE, VECTOR, Creation, Runtime


class OverlapDetectingEnv(gym.Env):
    """Counts steps and notices when two threads are inside it at once."""

    observation_space = gym.spaces.Discrete(1_000_000)
    action_space = gym.spaces.Discrete(2)

    def __init__(self):
        self.inside = threading.Lock()
        self.overlaps = 0
        self.steps = 0

    def _enter(self):
        if not self.inside.acquire(blocking=False):
            self.overlaps += 1
            return False
        return True

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return 0, {}

    def step(self, action):
        entered = self._enter()
        time.sleep(0.0005)  # widen the window in which an overlap would show
        self.steps += 1
        if entered:
            self.inside.release()
        return self.steps, 1.0, False, False, {}

    def render(self):
        entered = self._enter()
        time.sleep(0.0005)
        if entered:
            self.inside.release()


class RaisingEnv(OverlapDetectingEnv):
    def step(self, action):
        raise RuntimeError("physics exploded")


gym.register("gymapi-test/Overlap-v0", entry_point=OverlapDetectingEnv, disable_env_checker=True)
gym.register("gymapi-test/Raising-v0", entry_point=RaisingEnv, disable_env_checker=True)


@pytest.fixture
def runtime():
    table = Runtime()
    yield table
    table.close_all()


def test_it_serializes_calls_on_one_instance(runtime):
    live = runtime.create("a", Creation(SINGLE, "gymapi-test/Overlap-v0"))
    live.reset()

    def drive():
        for _ in range(50):
            live.step(np.int64(1))
            live.render()

    threads = [threading.Thread(target=drive) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    env = live._env.unwrapped
    assert env.overlaps == 0
    assert env.steps == live.episode_steps == 200
    assert live.episode_return == 200.0


def test_it_refuses_a_step_before_the_first_reset(runtime):
    live = runtime.create("a", Creation(SINGLE, "gymapi-test/Overlap-v0"))
    with pytest.raises(ResetNeeded):
        live.step(np.int64(0))


def test_it_turns_an_environment_exception_into_an_env_error(runtime):
    live = runtime.create("a", Creation(SINGLE, "gymapi-test/Raising-v0"))
    live.reset()
    with pytest.raises(EnvError, match="RuntimeError in step: physics exploded"):
        live.step(np.int64(0))
    assert live.episode_steps == 0


def test_it_uses_the_creation_seed_for_the_first_reset_only(runtime):
    first = runtime.create("a", Creation(SINGLE, "CartPole-v1", seed=7))
    second = runtime.create("b", Creation(SINGLE, "CartPole-v1", seed=7))
    observation_a, _ = first.reset()
    observation_b, _ = second.reset()
    assert np.array_equal(observation_a, observation_b)
    assert first.episode_seed == 7
    first.reset()
    assert first.episode_seed is None


def test_a_first_reset_with_its_own_seed_spends_the_creation_seed(runtime):
    live = runtime.create("a", Creation(SINGLE, "CartPole-v1", seed=7))
    local = gym.make("CartPole-v1")
    live.reset(seed=5)
    local.reset(seed=5)
    observation, _ = live.reset()
    assert live.episode_seed is None
    assert np.array_equal(observation, local.reset()[0])


def test_it_forgets_and_closes_removed_instances(runtime):
    live = runtime.create("a", Creation(SINGLE, "CartPole-v1"))
    assert runtime.get("a") is live
    assert runtime.remove("a") is live
    assert live.closed and runtime.get("a") is None and runtime.ids() == []


def test_it_holds_single_and_vector_instances_in_one_table(runtime):
    single = runtime.create("a", Creation(SINGLE, "CartPole-v1"))
    vector = runtime.create("b", Creation(VECTOR, "CartPole-v1", num_envs=3))
    assert runtime.get("a") is single and runtime.get("b") is vector
    assert runtime.get("a", VECTOR) is None and runtime.get("b", SINGLE) is None
    assert runtime.ids(SINGLE) == ["a"] and runtime.ids(VECTOR) == ["b"]
    assert runtime.environment_count() == 4


def test_a_ray_actor_starts_with_the_fronts_settings_on_a_database_of_its_own(monkeypatch):
    import subprocess
    import sys

    from envs.runtime.ray import actor_environment

    # A front on PostgreSQL may say GYMAPI_WRITER=loop, which an in-memory database refuses.
    monkeypatch.setenv("GYMAPI_WRITER", "loop")
    monkeypatch.setenv("GYMAPI_FLUSH_SECONDS", "3")
    env = actor_environment()
    assert env["GYMAPI_FLUSH_SECONDS"] == "3" and env["DATABASE_URL"] == "sqlite://:memory:"
    assert env["GYMAPI_RUNTIME"] == "local" and "GYMAPI_WRITER" not in env
    started = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from envs import hosting"],
        env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True, timeout=120,
    )
    assert started.returncode == 0, started.stderr[-2000:]
