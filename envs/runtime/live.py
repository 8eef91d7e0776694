"""Live environments: what every live instance has (``Live``), and one ``gymnasium.Env``
with the bookkeeping of its episode (``LiveEnv``; vector ones are in ``vector.py``).

A Gymnasium environment is not thread-safe: every call on one instance runs
under that instance's lock, so an env object is only ever used from one thread
at a time. Different instances run concurrently. Every attribute another
module keeps on a live instance is declared in its class.

An environment that raises in ``step``, ``reset`` (unless the client passed
reset options) or a client's ``render``, or whose call ran past
``GYMAPI_CALL_TIMEOUT``, is marked broken (README, Limits): its state after an
exception is unknown, so services close it.
"""

import threading
import time

from django.conf import settings
from gymnasium.wrappers import RecordVideo

from ..actions import decode_actions
from ..errors import EnvBroken, EnvError, EnvTimeout, InstanceGone, ResetNeeded
from .calls import CallTimeout, run_bounded
from .generators import generator_state
from .replay import play

SINGLE = "single"
VECTOR = "vector"


class Live:
    """What every live instance has, single or vector."""

    kind = None
    remote = False  # held in this process (envs/runtime/ray.py's instances are not)
    # Slots: a thousand idle instances cost a dictionary each otherwise (README, Performance, memory).
    __slots__ = (
        "instance_id", "_env", "lock", "env_id", "action_space", "observation_space", "owner_id", "record_actions",
        "_pending_seed", "closed", "broken", "abandoned", "needs_reset", "version", "last_used",
        "viewer_frame", "covered", "step_cost", "reset_cost",
    )

    def __init__(self, instance_id, env, *, seed=None, owner_id=None, record_actions=False):
        self.instance_id = instance_id
        self._env = env
        self.lock = threading.RLock()
        self.env_id = env.spec.id if env.spec else type(env.unwrapped).__name__
        self.action_space = env.action_space
        self.observation_space = env.observation_space
        # The ApiKey that created it (None when keys are off): the hot path's
        # ownership check reads it without the database (access.py).
        self.owner_id = owner_id
        # Whether each episode's actions, and what its reset started from, are kept
        # for its row, so that it can be replayed (recording/episodes.py).
        self.record_actions = record_actions
        # The creation seed seeds the first reset (unless that reset names its
        # own) and the action space, so samples are reproducible too.
        self._pending_seed = seed
        if seed is not None:
            self.action_space.seed(seed)
        self.closed = False
        self.broken = None  # why the environment broke (the error's message), once it has
        self.abandoned = False  # a call into it was abandoned and may still run: it is never touched again
        self.needs_reset = True
        # Bumped by every reset and step: viewers compare it to the one they
        # last drew, so a frame is rendered and encoded only when something changed.
        self.version = 0
        self.last_used = time.monotonic()
        # Seconds a step and a reset cost, moving averages (None until measured): which
        # calls may run on the event loop (http/dispatch.py). Two slots, not a dict: a
        # dict's table was some 200 bytes an instance.
        self.step_cost = self.reset_cost = None
        # The last frame drawn for viewers, shared by all of them (rendering.py).
        self.viewer_frame = None
        # Whether the database's rows cover every answer it gave, so that it can be rebuilt
        # from them after a restart (recording/episodes.py; services/resume.py).
        self.covered = False

    @property
    def spec(self):
        return self._env.spec

    @property
    def metadata(self):
        return self._env.metadata

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

    def _reset_env(self, seed, options):
        """Reset the environment with its own seed, else the creation seed, which the first
        reset spends whichever seed it used (a later unseeded reset continues the generator's
        stream). An environment refusing the client's options is the client's error, not a
        broken one. Returns ``(seed, observation, info)``."""
        if seed is None:
            seed = self._pending_seed
        observation, info = self._call("reset", self._env.reset, seed=seed, options=options, breaks=not options)
        self._pending_seed = None
        return seed, observation, info

    def sample_action(self):
        with self.lock:
            self.last_used = time.monotonic()
            return self.action_space.sample()

    def idle_seconds(self):
        """Seconds since its last reset, step, render or sample (what GYMAPI_IDLE_SECONDS counts)."""
        return time.monotonic() - self.last_used

    def close(self):
        """Close the environment, unless a call into it was abandoned (it may still be inside)."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
            if self.abandoned:
                return
            try:
                run_bounded(self._env.close)
            except Exception:  # closing must never keep an instance alive (a CallTimeout included)
                pass


class LiveEnv(Live):
    """One live environment and the bookkeeping of its current episode."""

    kind = SINGLE
    __slots__ = (
        "render_mode", "episode_number", "episode_steps", "episode_return", "episode_seed", "episode_options",
        "episode_generator", "episode_actions", "terminated", "truncated", "last_reward", "record", "video_folder",
    )

    def __init__(self, instance_id, env, **options):
        super().__init__(instance_id, env, **options)
        self.render_mode = env.render_mode
        self.episode_number = 0
        self.episode_steps = 0
        self.episode_return = 0.0
        self.episode_seed = None
        # What replays the current episode (with record_actions): its reset's options, the
        # generator's state before an unseeded reset, and its actions so far.
        self.episode_options = None
        self.episode_generator = None
        self.episode_actions = None
        self.terminated = False
        self.truncated = False
        self.last_reward = None
        # The database side of the current episode (recording/episodes.py).
        self.record = None
        # Where legacy mode's RecordVideo writes this instance's videos (the last
        # folder it was given; kept after the recording ends, for listing).
        self.video_folder = None

    @property
    def episode_over(self):
        return self.terminated or self.truncated

    def snapshot(self):
        """Its state at one moment, as plain data (read by selectors and pages, on any runtime)."""
        with self.lock:
            record = self.record
            return {
                "episode": self.episode_number,
                "steps": self.episode_steps,
                "return": self.episode_return,
                "terminated": self.terminated,
                "truncated": self.truncated,
                "reward": self.last_reward,
                "needs_reset": self.needs_reset or self.episode_over,
                "version": self.version,
                "idle_seconds": self.idle_seconds(),
                # The running episode as recording knows it: its number, seed and start.
                "record": None if record is None or record.finished else (record.number, record.seed, record.started),
            }

    def reset(self, *, seed=None, options=None):
        """Start a new episode; returns ``(observation, info)``."""
        with self.lock:
            generator = None
            if self.record_actions and seed is None and self._pending_seed is None:
                generator = generator_state(self._env)  # before the reset draws from it
            seed, observation, info = self._reset_env(seed, options)
            self.last_used = time.monotonic()
            self.needs_reset = False
            self.terminated = self.truncated = False
            self.episode_number += 1
            self.episode_steps = 0
            self.episode_return = 0.0
            self.episode_seed = seed
            if self.record_actions:
                self.episode_options, self.episode_generator, self.episode_actions = options, generator, []
            self.last_reward = None
            self.version += 1
            return observation, info

    def replay_episode(self, *, number, seed, options, generator, actions):
        """Rebuild the state of episode ``number`` by playing it again in this (fresh) environment:
        reset as it was (``seed``, ``options``, the generator state before an unseeded reset)
        and stepped with its recorded ``actions`` (encoded); the counters continue from there
        (the creation seed was spent by the instance's first reset). Returns ``Replayed``
        (runtime/replay.py), for the caller to compare with what was recorded; the replay is
        one call into the environment, bounded by ``GYMAPI_CALL_TIMEOUT`` (``EnvTimeout``), and
        what it raises is an ``EnvBroken``."""
        with self.lock:
            actions = list(decode_actions(actions, self.action_space))
            last = []
            replayed = self._call("its replay", play, self._env, actions, seed=seed, options=options, generator=generator,
                                  on_step=lambda env, action, observation, reward, *rest: last.append(reward))
            self._pending_seed = None
            self.needs_reset = False
            self.episode_number = number
            self.episode_steps = replayed.steps
            self.episode_return = replayed.total_reward
            self.episode_seed = seed
            self.terminated, self.truncated = replayed.terminated, replayed.truncated
            self.last_reward = float(last[-1]) if last else None
            if self.record_actions:
                self.episode_options, self.episode_generator, self.episode_actions = options, generator, actions
            self.version += 1
            self.last_used = time.monotonic()
            return replayed

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
            if self.episode_actions is not None:
                self.episode_actions.append(action)  # encoded once, when the episode's row is built
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

        Unlike ``render()``, it never consumes anything: in the ``*_list`` modes
        ``render()`` hands over and clears the frames collected since its last
        call, which belong to the client that asked for them, so viewers draw the
        base environment's current frame instead.
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
                "record_video", RecordVideo, self._env, str(folder),
                episode_trigger=episode_trigger, name_prefix=name_prefix, disable_logger=True, breaks=False,
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
