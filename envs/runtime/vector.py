"""A live ``gymnasium.vector.VectorEnv`` and the bookkeeping of each sub-environment's episode."""

import itertools
import time
from typing import NamedTuple

import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import concatenate, create_empty_array, iterate

from ..actions import decode_actions
from ..errors import EnvError, ResetNeeded
from .generators import generator_state
from .live import VECTOR, Live
from .replay import play

# Why a sub-environment's episode cannot be replayed by a single environment, when that is known as it runs.
SHARED_GENERATOR = (
    "a sub-environment of {env_id}'s own vector implementation, whose sub-environments share one random "
    "generator: no single environment replays one of them"
)
SAME_STEP_RESET = "reset within the step that ended its previous episode (SAME_STEP autoreset): its start is not recorded"
# Vector steps between two trims of the action log to what running episodes still need.
TRIM_EVERY = 64


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
    # What replays it (recording/episodes.py): its reset's options, the generator's state before
    # an unseeded reset, its actions (None when not recorded), and why it cannot be replayed.
    options: dict | None = None
    generator: bytes | dict | None = None  # generators.generator_state's
    actions: object = None
    unreplayable: str = ""


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

    With ``record_actions``, a ``SyncVectorEnv``'s sub-environments (each an
    environment of its own) keep what replays their episodes: each batched
    action is appended to ``action_log`` (one append a step), and an episode's
    actions are cut out of it when it ends; before a sub-environment's unseeded
    reset (the vector reset, or the autoreset of the step after its episode
    ended) its generator's state is saved. A vector entry point's
    sub-environments share one generator: their episodes are recorded as not
    replayable (``SHARED_GENERATOR``), with no actions.
    """

    kind = VECTOR
    render_mode = None  # vector environments draw nothing
    MODES = (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP)
    __slots__ = (
        "num_envs", "vectorization_mode", "autoreset_mode", "single_action_space", "single_observation_space", "steps",
        "episode_numbers", "episode_steps", "episode_returns", "episode_seeds", "episode_started", "autoresetting",
        "finished", "flushed_at", "unreplayable", "sub_envs", "episode_options", "episode_generators", "action_log",
        "action_log_start",
    )

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
        self.unreplayable = ""
        if self.record_actions and vectorization_mode != "sync":
            self.unreplayable, self.record_actions = SHARED_GENERATOR.format(env_id=self.env_id), False
        elif self.record_actions and self.autoreset_mode != AutoresetMode.NEXT_STEP:
            self.unreplayable, self.record_actions = SAME_STEP_RESET, False
        self.sub_envs = env.unwrapped.envs if self.record_actions else None
        self.episode_options = [None] * count
        self.episode_generators = [None] * count
        # Every batched action since the oldest running episode began: action_log[0] is vector step action_log_start's.
        self.action_log = []
        self.action_log_start = 0

    def reset(self, *, seed=None, options=None):
        """Reset every sub-environment; returns the batched ``(observation, info)``.

        An int ``seed`` seeds sub-environment ``i`` with ``seed + i`` (Gymnasium's
        rule for ``SyncVectorEnv``; a vector entry point seeds its one generator
        with ``seed``). Episodes still running are ended as interrupted.
        """
        with self.lock:
            generators = [None] * self.num_envs
            if self.record_actions and seed is None and self._pending_seed is None:
                generators = [generator_state(sub_env) for sub_env in self.sub_envs]  # before the reset draws
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
            self.episode_options = [options] * self.num_envs
            self.episode_generators = generators
            self.action_log, self.action_log_start = [], self.steps
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
            if self.record_actions:
                self.action_log.append(action)
            done = np.logical_or(terminated, truncated)
            self.episode_steps += 1
            self.episode_returns += reward
            restarted = self.autoresetting
            if restarted.any():  # NEXT_STEP: these were reset, not stepped (reward 0)
                self._start_episodes(np.flatnonzero(restarted), now)
            if done.any():
                ended = np.flatnonzero(done)
                indices, steps = ended.tolist(), self.episode_steps[ended].tolist()
                self.finished.extend(
                    map(
                        FinishedEpisode,
                        indices,
                        self.episode_numbers[ended].tolist(),
                        [self.episode_seeds[i] for i in indices],
                        [self.episode_started[i] for i in indices],
                        [now] * len(indices),
                        steps,
                        self.episode_returns[ended].tolist(),
                        np.asarray(terminated)[ended].tolist(),
                        np.asarray(truncated)[ended].tolist(),
                        [self.episode_options[i] for i in indices],
                        [self.episode_generators[i] for i in indices],
                        [self.actions_of(i, count, self.steps) for i, count in zip(indices, steps)],
                        [self.unreplayable] * len(indices),
                    )
                )
                if self.record_actions:  # the next step resets them unseeded: from this state
                    for i in indices:
                        self.episode_generators[i] = generator_state(self.sub_envs[i])
                if self.autoreset_mode == AutoresetMode.SAME_STEP:
                    self._start_episodes(ended, now)
            if self.autoreset_mode == AutoresetMode.NEXT_STEP:
                self.autoresetting = done
            self.steps += 1
            if self.record_actions and self.steps % TRIM_EVERY == 0:
                self._trim_action_log()
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
            self.episode_options[i] = None
            self.episode_started[i] = now

    def actions_of(self, index, count, last):
        """Sub-environment ``index``'s actions in the ``count`` vector steps up to step ``last``
        (``self.steps`` counts the steps before the current one), or None when not recorded."""
        if not self.record_actions:
            return None
        first = last - count + 1 - self.action_log_start
        batches = self.action_log[first : first + count]
        if batches and isinstance(batches[0], np.ndarray):  # a Box, Discrete, ... batch: one array
            return np.stack(batches)[:, index]
        return [next(itertools.islice(iterate(self.action_space, batch), index, None)) for batch in batches]

    def replay_episodes(self, episodes, steps):
        """Rebuild the state of every sub-environment after a restart by playing its last
        episode again in it (``episodes``: a row per sub-environment, in order, as recorded):
        a running one is taken up where it was, one that ended in the last step is reset by the
        next step, as it would have been. ``steps``: the vector steps made since creation.
        Returns a ``Replayed`` (runtime/replay.py) per sub-environment, for the caller to
        compare with what was recorded; each replay is one call into the environment."""
        with self.lock:
            replays, running = [], []
            for i, episode in enumerate(episodes):
                actions = list(decode_actions(episode.actions, self.single_action_space))
                replayed = self._call("its replay", play, self.sub_envs[i], actions, seed=episode.seed,
                                      options=episode.options, generator=episode.generator)
                replays.append(replayed)
                ended = episode.ended_at is not None
                self.episode_numbers[i] = episode.number
                self.episode_steps[i] = replayed.steps
                self.episode_returns[i] = replayed.total_reward
                self.episode_seeds[i] = episode.seed
                self.episode_started[i] = episode.started_at.timestamp()
                self.episode_options[i] = episode.options
                self.episode_generators[i] = generator_state(self.sub_envs[i]) if ended else episode.generator
                self.autoresetting[i] = ended
                running.append([] if ended else actions)
            # The next step resets those that ended (Gymnasium's NEXT_STEP autoreset).
            self._env.unwrapped._autoreset_envs = self.autoresetting.copy()
            self._pending_seed = None
            self.needs_reset = False
            self.steps = steps
            self.action_log, self.action_log_start = self._batches_of(running), steps - max(map(len, running), default=0)
            self.version += 1
            self.last_used = time.monotonic()
            return replays

    def _batches_of(self, running):
        """The batched actions of the last vector steps, from each sub-environment's running
        episode's actions (ending together at the last step); the steps before a shorter
        episode began hold a stand-in, which no episode's actions are cut from."""
        length = max(map(len, running), default=0)
        stand_in = next((actions[0] for actions in running if actions), None)
        batches = []
        for step in range(length):
            items = [
                actions[step - length + len(actions)] if step >= length - len(actions) else stand_in
                for actions in running
            ]
            batches.append(concatenate(self.single_action_space, items,
                                       create_empty_array(self.single_action_space, self.num_envs)))
        return batches

    def _trim_action_log(self):
        """Forget the batched actions of steps that no running episode holds."""
        oldest = self.steps - int(self.episode_steps.max())
        if oldest > self.action_log_start:
            del self.action_log[: oldest - self.action_log_start]
            self.action_log_start = oldest

    def _interrupt_running(self, now):
        """End the episodes that are running (begun and not ended) as interrupted."""
        for i in range(self.num_envs):
            if self.episode_numbers[i] and not self.autoresetting[i]:
                count = int(self.episode_steps[i])
                self.finished.append(
                    FinishedEpisode(
                        i, int(self.episode_numbers[i]), self.episode_seeds[i], self.episode_started[i], now,
                        count, float(self.episode_returns[i]), False, False, self.episode_options[i],
                        self.episode_generators[i], self.actions_of(i, count, self.steps - 1), self.unreplayable,
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
