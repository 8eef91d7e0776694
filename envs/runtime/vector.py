"""A live ``gymnasium.vector.VectorEnv`` and the bookkeeping of each sub-environment's episode."""

import time
from typing import NamedTuple

import numpy as np
from gymnasium.vector import AutoresetMode

from ..errors import EnvError, ResetNeeded
from .live import VECTOR, Live


class FinishedEpisode(NamedTuple):
    """A sub-environment's episode that ended (or was interrupted), waiting to be recorded."""

    sub_env: int
    number: int
    seed: int | None
    started: float  # time.time()
    ended: float
    steps: int
    total_reward: float
    terminated: bool
    truncated: bool


class LiveVectorEnv(Live):
    """One live ``gymnasium.vector.VectorEnv`` and the bookkeeping of each sub-environment's episode.

    Sub-environments reset themselves (Gymnasium's autoreset). In the
    ``NEXT_STEP`` mode, ``gym.make_vec``'s default, a sub-environment whose
    episode ended is reset by the next step instead of stepped: that step's
    action for it is ignored, its reward is 0 and its observation is the new
    episode's first. That step belongs to no episode, so it is not counted. In
    the ``SAME_STEP`` mode the new episode starts in the very step the old one
    ended.

    Counters live here, in numpy arrays, and nothing is written per step: the
    episodes that end are appended to ``finished`` for recording to write.
    """

    kind = VECTOR
    render_mode = None  # vector environments draw nothing
    MODES = (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP)

    def __init__(self, instance_id, env, *, vectorization_mode, **options):
        super().__init__(instance_id, env, **options)
        self.num_envs = env.num_envs
        self.vectorization_mode = vectorization_mode
        self.autoreset_mode = env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
        if self.autoreset_mode not in self.MODES:
            raise EnvError(f"{self.env_id}'s vector environment resets in the {self.autoreset_mode} mode, not served here.")
        self.single_action_space = env.single_action_space
        self.single_observation_space = env.single_observation_space
        self.steps = 0  # vector steps since creation
        count = self.num_envs
        self.episode_numbers = np.zeros(count, dtype=np.int64)
        self.episode_steps = np.zeros(count, dtype=np.int64)
        self.episode_returns = np.zeros(count, dtype=np.float64)
        self.episode_seeds = [None] * count
        self.episode_started = [0.0] * count
        # NEXT_STEP: the sub-environments whose episode ended in the last step,
        # which the next step resets instead of stepping.
        self.autoresetting = np.zeros(count, dtype=bool)
        self.finished = []  # FinishedEpisode records not written yet
        self.flushed_at = time.monotonic()  # when recording last took them (recording/episodes.py)

    def reset(self, *, seed=None, options=None):
        """Reset every sub-environment; returns the batched ``(observation, info)``.

        An int ``seed`` seeds sub-environment ``i`` with ``seed + i`` (Gymnasium's
        rule for ``SyncVectorEnv``; a vector entry point seeds its one generator
        with ``seed``). Episodes still running are ended as interrupted.
        """
        with self.lock:
            seed, observation, info = self._reset_env(seed, options)
            now = time.time()
            if not self.needs_reset:
                self._interrupt_running(now)
            self.needs_reset = False
            self.episode_numbers += 1
            self.episode_steps[:] = 0
            self.episode_returns[:] = 0.0
            self.episode_seeds = self._seeds_of(seed)
            self.episode_started = [now] * self.num_envs
            self.autoresetting[:] = False
            self.last_used = time.monotonic()
            self.version += 1
            return observation, info

    def step(self, action):
        """Advance every sub-environment one step; returns Gymnasium's batched five-tuple.

        ``action`` must already be a member of the batched action space: the
        codec decodes and checks it before it gets here.
        """
        with self.lock:
            if self.needs_reset:
                raise ResetNeeded("The vector environment has not been reset: call reset before the first step.")
            observation, reward, terminated, truncated, info = self._call("step", self._env.step, action)
            now = time.time()
            done = np.logical_or(terminated, truncated)
            self.episode_steps += 1
            self.episode_returns += reward
            restarted = self.autoresetting
            if restarted.any():  # NEXT_STEP: these were reset, not stepped (reward 0)
                self._start_episodes(np.flatnonzero(restarted), now)
            if done.any():
                ended = np.flatnonzero(done)
                self.finished.extend(
                    map(
                        FinishedEpisode,
                        ended.tolist(),
                        self.episode_numbers[ended].tolist(),
                        [self.episode_seeds[i] for i in ended],
                        [self.episode_started[i] for i in ended],
                        [now] * len(ended),
                        self.episode_steps[ended].tolist(),
                        self.episode_returns[ended].tolist(),
                        np.asarray(terminated)[ended].tolist(),
                        np.asarray(truncated)[ended].tolist(),
                    )
                )
                if self.autoreset_mode == AutoresetMode.SAME_STEP:
                    self._start_episodes(ended, now)
            if self.autoreset_mode == AutoresetMode.NEXT_STEP:
                self.autoresetting = done
            self.steps += 1
            self.last_used = time.monotonic()
            self.version += 1
            return observation, reward, terminated, truncated, info

    def _seeds_of(self, seed):
        if seed is None:
            return [None] * self.num_envs
        if self.vectorization_mode == "sync":
            return [seed + i for i in range(self.num_envs)]
        return [seed] * self.num_envs

    def _start_episodes(self, indices, now):
        self.episode_numbers[indices] += 1
        self.episode_steps[indices] = 0
        self.episode_returns[indices] = 0.0
        for i in indices:
            self.episode_seeds[i] = None
            self.episode_started[i] = now

    def _interrupt_running(self, now):
        """End the episodes that are running (begun and not ended) as interrupted."""
        for i in range(self.num_envs):
            if self.episode_numbers[i] and not self.autoresetting[i]:
                self.finished.append(
                    FinishedEpisode(
                        i, int(self.episode_numbers[i]), self.episode_seeds[i], self.episode_started[i], now,
                        int(self.episode_steps[i]), float(self.episode_returns[i]), False, False,
                    )
                )

    def take_finished(self):
        """The episodes ended since the last call, oldest first; the list is emptied."""
        with self.lock:
            finished, self.finished = self.finished, []
            return finished

    def snapshot(self):
        """Its state at one moment, as plain data (read by selectors and pages, on any runtime)."""
        with self.lock:
            return {
                "steps": self.steps,
                "needs_reset": self.needs_reset,
                "sub_envs": self.running_episodes(),
                "version": self.version,
                "idle_seconds": self.idle_seconds(),
            }

    def running_episodes(self):
        """Each sub-environment's current episode: ``[{"sub_env", "number", "steps", "return", "ended"}]``;
        ``ended``: it ended in the last step, and the next step starts the next one."""
        with self.lock:
            numbers, steps, returns = self.episode_numbers.tolist(), self.episode_steps.tolist(), self.episode_returns.tolist()
            autoresetting = self.autoresetting.tolist()
        return [
            {"sub_env": i, "number": numbers[i], "steps": steps[i], "return": returns[i], "ended": autoresetting[i]}
            for i in range(self.num_envs)
        ]

    def end_episodes(self):
        """End the running episodes as interrupted (before a close); the next
        step needs a reset. Returns every episode not taken yet (``take_finished``)."""
        with self.lock:
            if not self.needs_reset:
                self._interrupt_running(time.time())
                self.needs_reset = True
            return self.take_finished()
