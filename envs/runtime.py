"""The only home of live ``gymnasium.Env`` objects in this process.

Everything else reaches an environment through ``runtime`` and the narrow
``LiveEnv`` interface (reset, step, render, sample, close, spaces), so that
another backend (a worker process, a remote host) can hold environments later
without touching views or services.

A Gymnasium environment is not thread-safe: every call on one instance runs
under that instance's lock, so an env object is only ever used from one thread
at a time. Different instances run concurrently.
"""

import threading
import time

import gymnasium as gym
from gymnasium.wrappers import RecordVideo

from .errors import EnvError, ResetNeeded


class LiveEnv:
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

    def _call(self, what, function, *args, **kwargs):
        try:
            return function(*args, **kwargs)
        except Exception as error:
            raise EnvError(f"{self.env_id} raised {type(error).__name__} in {what}: {error}") from error

    def reset(self, *, seed=None, options=None):
        """Start a new episode; returns ``(observation, info)``."""
        with self.lock:
            if seed is None:
                seed = self._pending_seed
            observation, info = self._call("reset", self._env.reset, seed=seed, options=options)
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
            return self._call("render", self._env.render)

    def frame(self):
        """The current picture (an RGB array, or text) for viewers.

        Unlike ``render()``, it never consumes anything: in the ``*_list``
        modes ``render()`` hands over and clears the frames collected since its
        last call, which belong to the client that asked for them, so viewers
        draw the base environment's current frame instead.
        """
        with self.lock:
            if self.render_mode and self.render_mode.endswith("_list"):
                return self._call("render", self._env.unwrapped.render)
            return self._call("render", self._env.render)

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
                self._call("stop_video", recorder.stop_recording)
            return True

    def sample_action(self):
        with self.lock:
            return self.action_space.sample()

    def close(self):
        with self.lock:
            if self.closed:
                return
            self.closed = True
            try:
                self._env.close()
            except Exception:  # closing must never keep an instance alive
                pass


class Runtime:
    """The process-local table of live environments, keyed by instance id (str)."""

    def __init__(self):
        self._envs = {}
        self._lock = threading.Lock()

    def create(self, instance_id, env_id, *, render_mode=None, kwargs=None, max_episode_steps=None, seed=None):
        """Build an environment with ``gym.make`` and hold it under ``instance_id``."""
        options = dict(kwargs or {})
        # Only what was asked for: gym.make(id) must behave exactly as in-process.
        if render_mode is not None:
            options["render_mode"] = render_mode
        if max_episode_steps is not None:
            options["max_episode_steps"] = max_episode_steps
        try:
            env = gym.make(env_id, **options)
        except Exception as error:
            raise EnvError(f"{env_id} could not be created: {type(error).__name__}: {error}") from error
        live = LiveEnv(str(instance_id), env, seed=seed)
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

    def close_all(self):
        for instance_id in self.ids():
            self.remove(instance_id)


runtime = Runtime()
