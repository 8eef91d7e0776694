"""The only home of live ``gymnasium.Env`` objects in this process: the runtime.

Everything else reaches an environment through ``runtime`` and the narrow
interface of its live instances (reset, step, render, sample, close, spaces:
``live.py``), so that another backend can hold environments without touching
views or services. Single and vector instances share one table: an id is one
kind or the other, and ``kind`` says which.
"""

import threading
from typing import NamedTuple

import gymnasium as gym
from django.conf import settings

from ..errors import EnvError, EnvTimeout
from .calls import ActorGone, CallTimeout, run_bounded
from .live import SINGLE, VECTOR, Live, LiveEnv
from .vector import LiveVectorEnv

__all__ = ["SINGLE", "VECTOR", "ActorGone", "Creation", "Live", "LiveEnv", "LiveVectorEnv", "Runtime", "runtime"]


class Creation(NamedTuple):
    """What a client asked to create, checked by services."""

    kind: str  # SINGLE or VECTOR
    env_id: str
    num_envs: int | None = None  # vector instances only
    render_mode: str | None = None  # single instances only
    kwargs: dict | None = None
    max_episode_steps: int | None = None
    seed: int | None = None
    owner_id: int | None = None
    record_actions: bool = False  # keep what replays each episode (its actions, its reset's start)
    num_cpus: float | None = None  # the CPUs its Ray actor reserves (the Ray runtime only)


class Runtime:
    """The process-local table of live environments, keyed by instance id (str)."""

    remote = False

    def __init__(self):
        self._lives = {}
        self._lock = threading.Lock()

    def create(self, instance_id, creation):
        """Build the environment ``creation`` describes and hold it under ``instance_id``."""
        options = dict(creation.kwargs or {})
        # Only what was asked for: gym.make(id) must behave exactly as in-process.
        if creation.max_episode_steps is not None:
            options["max_episode_steps"] = creation.max_episode_steps
        what = "a vector environment" if creation.kind == VECTOR else "an environment"
        try:
            env, mode = self._build(creation, options)
        except CallTimeout:
            # The abandoned gym.make may still finish; its environment is then dropped unclosed.
            raise EnvTimeout(
                f"{creation.env_id} was not created within {settings.GYMAPI_CALL_TIMEOUT:g} s (GYMAPI_CALL_TIMEOUT): "
                "the creation was abandoned."
            ) from None
        except Exception as error:
            raise EnvError(
                f"{creation.env_id} could not be created as {what}: {type(error).__name__}: {error}"
            ) from error
        try:
            if creation.kind == VECTOR:
                live = LiveVectorEnv(str(instance_id), env, vectorization_mode=mode, seed=creation.seed,
                                     owner_id=creation.owner_id, record_actions=creation.record_actions)
            else:
                live = LiveEnv(str(instance_id), env, seed=creation.seed, owner_id=creation.owner_id,
                               record_actions=creation.record_actions)
        except BaseException:
            env.close()
            raise
        with self._lock:
            self._lives[live.instance_id] = live
        return live

    @staticmethod
    def _build(creation, options):
        if creation.kind == SINGLE:
            if creation.render_mode is not None:
                options["render_mode"] = creation.render_mode
            return run_bounded(gym.make, creation.env_id, **options), None
        # Gymnasium's own vectorized implementation when the environment has one
        # (its spec's vector_entry_point: CartPole steps all sub-environments in
        # one numpy operation), else SyncVectorEnv, sub-environments stepped one
        # after the other in this process. Never async: environments live here.
        spec = gym.spec(creation.env_id)
        mode = "vector_entry_point" if spec.vector_entry_point is not None else "sync"
        env = run_bounded(gym.make_vec, creation.env_id, creation.num_envs, vectorization_mode=mode, **options)
        return env, mode

    def get(self, instance_id, kind=None):
        """The live instance ``instance_id`` (of ``kind``, when given), or None."""
        live = self._lives.get(str(instance_id))
        if live is None or (kind is not None and live.kind != kind):
            return None
        return live

    def remove(self, instance_id):
        """Close an instance's environment and forget it. Returns it, or None."""
        with self._lock:
            live = self._lives.pop(str(instance_id), None)
        if live is not None:
            live.close()
        return live

    def forget(self, instance_id):
        """An instance that ended elsewhere (its record says so): its environment goes too."""
        self.remove(instance_id)

    def cached(self, instance_id):
        return self._lives.get(str(instance_id))

    def lives(self, kind=None):
        """Every live instance (of ``kind``, when given)."""
        with self._lock:
            return [live for live in self._lives.values() if kind is None or live.kind == kind]

    def ids(self, kind=None):
        return [live.instance_id for live in self.lives(kind)]

    def environment_count(self):
        """The environments held: 1 per single instance, ``num_envs`` per vector one
        (what ``GYMAPI_MAX_INSTANCES`` counts)."""
        with self._lock:
            return sum(live.num_envs if live.kind == VECTOR else 1 for live in self._lives.values())

    def close_all(self):
        for instance_id in self.ids():
            self.remove(instance_id)


def _runtime():
    """The runtime ``GYMAPI_RUNTIME`` names. Only the Ray runtime imports Ray."""
    if settings.GYMAPI_RUNTIME == "ray":
        from .ray import RayRuntime

        return RayRuntime()
    return Runtime()


runtime = _runtime()
