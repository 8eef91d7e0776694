"""Recorded episodes played again, each in a fresh environment that lives for one replay.

Replays are the runtime's other environments: built here, stepped here and
closed here, never held in the table of live instances (``play`` also plays
an episode again in a live instance's fresh environment, to rebuild it after
a restart). The environment is
made as the instance's was (its id, kwargs and episode limit), reset with the
episode's seed, or with the generator state saved before an unseeded reset
(generators.py), and stepped with its recorded actions. The caller runs it in
a thread (a Django view, a command) and bounds it in time.
"""

import time
from typing import NamedTuple

import gymnasium as gym

from ..actions import decode_actions
from ..errors import ReplayTimeout
from .generators import restore_generator


class Replayed(NamedTuple):
    """How a replay went."""

    steps: int
    total_reward: float
    terminated: bool
    truncated: bool
    ended_early: bool  # the environment ended the episode before its recorded actions ran out


def replay(*, env_id, actions, kwargs=None, max_episode_steps=None, seed=None, options=None, generator=None,
           render_mode=None, on_reset=None, on_step=None, timeout=None):
    """Play ``actions`` (as stored: envs/actions.py) from the episode's start in a fresh
    environment; returns ``Replayed``.

    ``on_reset(env, observation, info)`` and ``on_step(env, action, observation, reward,
    terminated, truncated, info)`` see each state as it comes (a video's frames, a
    dataset's steps). Past ``timeout`` seconds it raises ``ReplayTimeout``; what the
    environment raises is raised as it is.
    """
    made = dict(kwargs or {})
    if max_episode_steps is not None:
        made["max_episode_steps"] = max_episode_steps
    if render_mode is not None:
        made["render_mode"] = render_mode
    env = gym.make(env_id, **made)
    try:
        return play(env, decode_actions(actions, env.action_space), seed=seed, options=options, generator=generator,
                    on_reset=on_reset, on_step=on_step, timeout=timeout)
    finally:
        env.close()


def play(env, actions, *, seed=None, options=None, generator=None, on_reset=None, on_step=None, timeout=None):
    """Reset ``env`` as an episode began (``seed``, else the ``generator`` state saved before
    an unseeded reset) and step it with ``actions`` (members of its action space); returns
    ``Replayed``. Past ``timeout`` seconds it raises ``ReplayTimeout``. Also how a restarted
    server rebuilds an instance (services/resume.py)."""
    deadline = time.monotonic() + timeout if timeout else None
    if seed is None and generator is not None:
        restore_generator(env, generator)
    observation, info = env.reset(seed=seed, options=options)
    if on_reset is not None:
        on_reset(env, observation, info)
    steps, total, terminated, truncated = 0, 0.0, False, False
    for action in actions:
        if terminated or truncated:
            return Replayed(steps, total, terminated, truncated, ended_early=True)
        if deadline is not None and time.monotonic() > deadline:
            raise ReplayTimeout(
                f"The replay of {env.spec.id if env.spec else 'the environment'} took more than {timeout:g} s "
                f"(GYMAPI_REPLAY_TIMEOUT) and was given up after {steps} steps."
            )
        observation, reward, terminated, truncated, info = env.step(action)
        terminated, truncated = bool(terminated), bool(truncated)
        steps += 1
        total += float(reward)  # summed as the live instance sums it: the same float, bit for bit
        if on_step is not None:
            on_step(env, action, observation, reward, terminated, truncated, info)
    return Replayed(steps, total, terminated, truncated, ended_early=False)
