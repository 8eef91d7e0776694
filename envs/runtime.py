"""The only home of live ``gymnasium.Env`` objects in this process.

Everything else reaches an environment through ``runtime`` and the narrow
``LiveEnv`` interface (reset, step, render, sample, close, spaces), so that
another backend (a worker process, a remote host) can hold environments later
without touching views or services. Vector environments
(``gymnasium.vector.VectorEnv``) are held the same way, as ``LiveVectorEnv``,
in a table of their own: an id is either one kind or the other.

A Gymnasium environment is not thread-safe: every call on one instance runs
under that instance's lock, so an env object is only ever used from one thread
at a time. Different instances run concurrently.

Calls into an environment made in a thread are bounded by
``GYMAPI_CALL_TIMEOUT``: the calling thread (holding the instance's lock)
hands the call to a thread of ``_CallThreads`` and waits at most that long.
Past it, the call is abandoned where it runs, the instance is marked broken
and its environment never touched again (not even closed). Calls made on the
event loop (envs/inline.py) are made directly: a hop there would cost more
than the call, and a loop cannot wait for a thread anyway. An environment
that raises in ``step``, ``reset`` (unless the client passed reset options) or
a client's ``render`` is marked broken too; README, Limits, says why.
"""

import asyncio
import threading
import time
from typing import NamedTuple

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from django.conf import settings
from gymnasium.wrappers import RecordVideo

from .errors import EnvBroken, EnvError, EnvTimeout, InstanceGone, ResetNeeded


class CallTimeout(Exception):
    """A call ran past ``GYMAPI_CALL_TIMEOUT`` and was abandoned (it may still be running)."""


class _CallThread:
    """One thread of ``_CallThreads``: makes one call at a time, handed over through locks."""

    def __init__(self, pool):
        self._pool = pool
        self._job = None
        self._start = threading.Lock()
        self._start.acquire()
        threading.Thread(target=self._run, name="env-call", daemon=True).start()

    def call(self, timeout, function, args, kwargs):
        done = threading.Lock()  # one per call: a call abandoned and finishing late releases its own
        done.acquire()
        job = self._job = [function, args, kwargs, done, None, None]
        self._start.release()
        if not done.acquire(timeout=timeout):
            raise CallTimeout
        if job[5] is not None:
            raise job[5]
        return job[4]

    def _run(self):
        while True:
            self._start.acquire()
            job, self._job = self._job, None
            function, args, kwargs, done = job[:4]
            try:
                job[4] = function(*args, **kwargs)
            except BaseException as error:  # handed to the caller, who raises it
                job[5] = error
            del function, args, kwargs
            self._pool.idle(self)  # before the caller wakes, so its next call finds this thread
            done.release()


class _CallThreads:
    """The threads that make calls into environments for callers waiting at most a timeout.

    A thread is taken for each call and given back when the call returns; one
    whose call was abandoned is given back only if that call ever returns, so
    a hung environment costs one thread and nothing else. The pool grows to
    the number of calls made at once. A call handed over costs about 20 us
    more than one made directly (a CartPole step: 6 us direct, 23 us handed
    over, measured in-process).
    """

    def __init__(self):
        self._idle = []
        self._lock = threading.Lock()

    def call(self, timeout, function, args, kwargs):
        with self._lock:
            thread = self._idle.pop() if self._idle else None
        if thread is None:
            thread = _CallThread(self)
        return thread.call(timeout, function, args, kwargs)

    def idle(self, thread):
        with self._lock:
            self._idle.append(thread)


_call_threads = _CallThreads()
_running_loop = asyncio._get_running_loop  # None off an event loop's thread; C, ~50 ns


def run_bounded(function, *args, **kwargs):
    """``function(*args, **kwargs)``, abandoned past ``GYMAPI_CALL_TIMEOUT`` (``CallTimeout``).

    Made directly on an event loop's thread (envs/inline.py: a loop cannot wait
    for a thread, and the hop would cost more than a cheap call) and when the
    timeout is 0; otherwise in a thread of ``_CallThreads``.
    """
    if _running_loop() is not None:  # checked first: the loop's calls are the cheap, hot ones
        return function(*args, **kwargs)
    timeout = settings.GYMAPI_CALL_TIMEOUT
    if not timeout:
        return function(*args, **kwargs)
    return _call_threads.call(timeout, function, args, kwargs)


class _GuardedCalls:
    # The id of the ApiKey that created it (None when keys are off), for the
    # hot path's ownership check without the database (envs/access.py).
    owner_id = None

    broken = None  # why the environment broke (the error's message), once it has
    abandoned = False  # a call into it was abandoned and may still run: it is never touched again

    def _call(self, what, function, *args, breaks=True, **kwargs):
        """Call into the environment. Its exception becomes an ``EnvError``, which
        marks it broken (``EnvBroken``) unless ``breaks`` is false; a call past
        ``GYMAPI_CALL_TIMEOUT`` is abandoned and marks it broken (``EnvTimeout``).
        The caller holds the instance's lock; services close a broken instance."""
        if self.broken is not None:
            raise InstanceGone(self.instance_id, "broken", reason=self.broken)
        try:
            return run_bounded(function, *args, **kwargs)
        except CallTimeout:
            self.abandoned = True
            self.broken = (
                f"{self.env_id} did not return from {what} within {settings.GYMAPI_CALL_TIMEOUT:g} s (GYMAPI_CALL_TIMEOUT)"
            )
            raise EnvTimeout(f"{self.broken}: the call was abandoned and the instance is broken and closed.") from None
        except Exception as error:
            message = f"{self.env_id} raised {type(error).__name__} in {what}: {error}"
            if not breaks:
                raise EnvError(message) from error
            self.broken = message
            raise EnvBroken(f"{message}. The instance is broken and closed; create another.") from error

    def _close_env(self):
        """Close the environment, unless a call into it was abandoned (it may still be inside)."""
        if self.abandoned:
            return
        try:
            run_bounded(self._env.close)
        except Exception:  # closing must never keep an instance alive (a CallTimeout included)
            pass


class LiveEnv(_GuardedCalls):
    """One live environment and the bookkeeping of its current episode."""

    def __init__(self, instance_id, env, seed=None):
        self.instance_id = instance_id
        self._env = env
        self.lock = threading.RLock()
        self.env_id = env.spec.id if env.spec else type(env.unwrapped).__name__
        self.render_mode = env.render_mode
        self.action_space = env.action_space
        self.observation_space = env.observation_space
        # The creation seed seeds the first reset (unless that reset names its
        # own) and the action space, so samples are reproducible too.
        self._pending_seed = seed
        if seed is not None:
            self.action_space.seed(seed)
        self.closed = False
        self.needs_reset = True
        self.episode_number = 0
        self.episode_steps = 0
        self.episode_return = 0.0
        self.episode_seed = None
        self.terminated = False
        self.truncated = False
        self.last_reward = None
        # Bumped by every reset and step: viewers compare it to the one they
        # last drew, so a frame is rendered and encoded only when something changed.
        self.version = 0
        self.last_used = time.monotonic()
        # Where Gymnasium's RecordVideo writes this instance's videos (the last
        # folder it was given; kept after the recording ends, for listing).
        self.video_folder = None

    @property
    def episode_over(self):
        return self.terminated or self.truncated

    @property
    def spec(self):
        return self._env.spec

    @property
    def metadata(self):
        return self._env.metadata

    def reset(self, *, seed=None, options=None):
        """Start a new episode; returns ``(observation, info)``."""
        with self.lock:
            if seed is None:
                seed = self._pending_seed
            # An environment refusing the client's options is the client's error, not a broken one.
            observation, info = self._call("reset", self._env.reset, seed=seed, options=options, breaks=not options)
            # The creation seed is spent by the first reset, whichever seed that
            # reset used: a later unseeded reset continues the generator's stream.
            self._pending_seed = None
            self.last_used = time.monotonic()
            self.needs_reset = False
            self.terminated = self.truncated = False
            self.episode_number += 1
            self.episode_steps = 0
            self.episode_return = 0.0
            self.episode_seed = seed
            self.last_reward = None
            self.version += 1
            return observation, info

    def step(self, action):
        """Advance one step; returns Gymnasium's five-tuple.

        ``action`` must already be a member of the action space: the codec
        decodes and checks it before it gets here.
        """
        with self.lock:
            if self.needs_reset:
                raise ResetNeeded("The environment has not been reset: call reset before the first step.")
            if self.episode_over:
                raise ResetNeeded("The episode is over (terminated or truncated): call reset to start a new one.")
            observation, reward, terminated, truncated, info = self._call("step", self._env.step, action)
            reward = float(reward)
            terminated, truncated = bool(terminated), bool(truncated)
            self.last_used = time.monotonic()
            self.episode_steps += 1
            self.episode_return += reward
            self.last_reward = reward
            self.terminated, self.truncated = terminated, truncated
            self.version += 1
            return observation, reward, terminated, truncated, info

    def render(self):
        """The environment's render for its render mode (a frame, frames or text)."""
        with self.lock:
            rendered = self._call("render", self._env.render)
            self.last_used = time.monotonic()
            return rendered

    def frame(self):
        """The current picture (an RGB array, or text) for viewers.

        Unlike ``render()``, it never consumes anything: in the ``*_list``
        modes ``render()`` hands over and clears the frames collected since its
        last call, which belong to the client that asked for them, so viewers
        draw the base environment's current frame instead.
        """
        with self.lock:
            # A watcher's failed frame is logged, not held against the instance (README, Limits).
            if self.render_mode and self.render_mode.endswith("_list"):
                return self._call("render", self._env.unwrapped.render, breaks=False)
            return self._call("render", self._env.render, breaks=False)

    @property
    def recording_video(self):
        return isinstance(self._env, RecordVideo)

    def record_video(self, folder, *, episode_trigger, name_prefix):
        """Wrap the environment in Gymnasium's ``RecordVideo``: from the next
        reset on, the episodes ``episode_trigger`` picks (numbered from 0) are
        written to ``folder`` as MP4 files named after ``name_prefix``."""
        with self.lock:
            if self.recording_video:
                raise EnvError(f"{self.env_id} is already recording video to {self.video_folder}.")
            self._env = self._call(
                "record_video",
                RecordVideo,
                self._env,
                str(folder),
                episode_trigger=episode_trigger,
                name_prefix=name_prefix,
                disable_logger=True,
                breaks=False,
            )
            self.video_folder = folder

    def stop_video(self):
        """Write the video being recorded (the episode so far) and take the
        ``RecordVideo`` wrapper off again. Returns whether one was on."""
        with self.lock:
            if not self.recording_video:
                return False
            recorder, self._env = self._env, self._env.env
            if recorder.recording:
                self._call("stop_video", recorder.stop_recording, breaks=False)
            return True

    def sample_action(self):
        with self.lock:
            self.last_used = time.monotonic()
            return self.action_space.sample()

    def close(self):
        with self.lock:
            if self.closed:
                return
            self.closed = True
            self._close_env()


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


class LiveVectorEnv(_GuardedCalls):
    """One live ``gymnasium.vector.VectorEnv`` and the bookkeeping of each sub-environment's episode.

    Sub-environments reset themselves (Gymnasium's autoreset). In the
    ``NEXT_STEP`` mode, ``gym.make_vec``'s default, a sub-environment whose
    episode ended (terminated or truncated) is reset by the next step instead
    of stepped: that step's action for it is ignored, its reward is 0 and its
    observation is the new episode's first. That step belongs to no episode,
    so it is not counted. In the ``SAME_STEP`` mode the new episode starts in
    the very step the old one ended.

    Counters live here, in numpy arrays, and nothing is written per step: the
    episodes that end are appended to ``finished`` for ``recording`` to write.
    """

    MODES = (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP)

    def __init__(self, instance_id, env, *, vectorization_mode, seed=None):
        self.instance_id = instance_id
        self._env = env
        self.lock = threading.RLock()
        self.env_id = env.spec.id if env.spec else type(env.unwrapped).__name__
        self.num_envs = env.num_envs
        self.vectorization_mode = vectorization_mode
        self.autoreset_mode = env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
        if self.autoreset_mode not in self.MODES:
            raise EnvError(f"{self.env_id}'s vector environment resets in the {self.autoreset_mode} mode, not served here.")
        self.action_space = env.action_space
        self.observation_space = env.observation_space
        self.single_action_space = env.single_action_space
        self.single_observation_space = env.single_observation_space
        # As for one environment: the creation seed seeds the first reset and the action space.
        self._pending_seed = seed
        if seed is not None:
            self.action_space.seed(seed)
        self.closed = False
        self.needs_reset = True
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
        self.version = 0
        self.last_used = time.monotonic()

    @property
    def spec(self):
        return self._env.spec

    @property
    def metadata(self):
        return self._env.metadata

    def reset(self, *, seed=None, options=None):
        """Reset every sub-environment; returns the batched ``(observation, info)``.

        An int ``seed`` seeds sub-environment ``i`` with ``seed + i`` (Gymnasium's
        rule for ``SyncVectorEnv``; a vector entry point seeds its one generator
        with ``seed``). Episodes still running are ended as interrupted.
        """
        with self.lock:
            if seed is None:
                seed = self._pending_seed
            observation, info = self._call("reset", self._env.reset, seed=seed, options=options, breaks=not options)
            self._pending_seed = None
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
        """Each sub-environment's seed from a reset's: ``seed + i`` as ``SyncVectorEnv``
        gives them; a vector entry point seeds its one generator with ``seed``."""
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

    def sample_action(self):
        with self.lock:
            self.last_used = time.monotonic()
            return self.action_space.sample()

    def end_episodes(self):
        """End the running episodes as interrupted (before a close); the next
        step needs a reset. Returns every episode not taken yet (``take_finished``)."""
        with self.lock:
            if not self.needs_reset:
                self._interrupt_running(time.time())
                self.needs_reset = True
            return self.take_finished()

    def close(self):
        with self.lock:
            if self.closed:
                return
            self.closed = True
            self._close_env()


class Runtime:
    """The process-local table of live environments, keyed by instance id (str)."""

    def __init__(self):
        self._envs = {}
        self._vectors = {}
        self._lock = threading.Lock()

    def create(
        self, instance_id, env_id, *, render_mode=None, kwargs=None, max_episode_steps=None, seed=None, owner_id=None
    ):
        """Build an environment with ``gym.make`` and hold it under ``instance_id``."""
        options = dict(kwargs or {})
        # Only what was asked for: gym.make(id) must behave exactly as in-process.
        if render_mode is not None:
            options["render_mode"] = render_mode
        if max_episode_steps is not None:
            options["max_episode_steps"] = max_episode_steps
        try:
            env = run_bounded(gym.make, env_id, **options)
        except CallTimeout:
            raise _creation_timeout(env_id) from None
        except Exception as error:
            raise EnvError(f"{env_id} could not be created: {type(error).__name__}: {error}") from error
        live = LiveEnv(str(instance_id), env, seed=seed)
        live.owner_id = owner_id
        with self._lock:
            self._envs[live.instance_id] = live
        return live

    def get(self, instance_id):
        """The live environment for ``instance_id``, or None."""
        return self._envs.get(str(instance_id))

    def remove(self, instance_id):
        """Close an instance's environment and forget it. Returns it, or None."""
        with self._lock:
            live = self._envs.pop(str(instance_id), None)
        if live is not None:
            live.close()
        return live

    def ids(self):
        return list(self._envs)

    def create_vector(
        self, instance_id, env_id, *, num_envs, kwargs=None, max_episode_steps=None, seed=None, owner_id=None
    ):
        """Build a vector environment with ``gym.make_vec`` and hold it under ``instance_id``.

        Gymnasium's own vectorized implementation when the environment has one
        (its spec's ``vector_entry_point``: CartPole's steps all sub-environments
        in one numpy operation), else ``SyncVectorEnv``, sub-environments
        stepped one after the other in this process. Never ``async``: environments
        live in this process, not in subprocesses.
        """
        options = dict(kwargs or {})
        if max_episode_steps is not None:
            options["max_episode_steps"] = max_episode_steps
        try:
            spec = gym.spec(env_id)
            mode = "vector_entry_point" if spec.vector_entry_point is not None else "sync"
            env = run_bounded(gym.make_vec, env_id, num_envs, vectorization_mode=mode, **options)
        except CallTimeout:
            raise _creation_timeout(env_id) from None
        except Exception as error:
            raise EnvError(f"{env_id} could not be created as a vector environment: {type(error).__name__}: {error}") from error
        try:
            live = LiveVectorEnv(str(instance_id), env, vectorization_mode=mode, seed=seed)
        except BaseException:
            env.close()
            raise
        live.owner_id = owner_id
        with self._lock:
            self._vectors[live.instance_id] = live
        return live

    def get_vector(self, instance_id):
        """The live vector environment for ``instance_id``, or None."""
        return self._vectors.get(str(instance_id))

    def remove_vector(self, instance_id):
        """Close a vector environment and forget it. Returns it, or None."""
        with self._lock:
            live = self._vectors.pop(str(instance_id), None)
        if live is not None:
            live.close()
        return live

    def vector_ids(self):
        return list(self._vectors)

    def lives(self):
        """Every live environment, single and vector."""
        with self._lock:
            return [*self._envs.values(), *self._vectors.values()]

    def environment_count(self):
        """The environments held: 1 per single instance, ``num_envs`` per vector one
        (what ``GYMAPI_MAX_INSTANCES`` counts)."""
        with self._lock:
            return len(self._envs) + sum(live.num_envs for live in self._vectors.values())

    def close_all(self):
        for instance_id in self.ids():
            self.remove(instance_id)
        for instance_id in self.vector_ids():
            self.remove_vector(instance_id)


def _creation_timeout(env_id):
    # The abandoned gym.make may still finish; its environment is then dropped unclosed.
    seconds = settings.GYMAPI_CALL_TIMEOUT
    return EnvTimeout(f"{env_id} was not created within {seconds:g} s (GYMAPI_CALL_TIMEOUT): the creation was abandoned.")


runtime = Runtime()
