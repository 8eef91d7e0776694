"""Recorded episodes: looked up for a caller, and replayed in a fresh environment, checked
against what was recorded (README, Episodes).

An episode replays when its row holds its actions and where its reset started
from (a seed, or the generator's state before an unseeded reset), and its
environment is deterministic from there. Which it is not is found two ways:
Gymnasium's ``spec.nondeterministic`` refuses it before anything runs, and a
replay whose steps, return or end differ from the recorded ones proves it.
Either way the answer is a 409 that says why, never a replay that pretends.

A replay served over HTTP (and a video's render, videos.py) runs in a worker
thread of its own, never on the event loop, through ``bounded``: at most
``GYMAPI_MAX_REPLAYS`` of them at once in this process, each given up after
``GYMAPI_REPLAY_TIMEOUT`` seconds whatever it is doing (building the
environment, stepping it, rendering, encoding). ``manage.py export_minari``
replays in its own process, one episode after another, with
``replay_checked`` alone. Every replay is bounded by
``GYMAPI_REPLAY_MAX_STEPS``.
"""

import threading

import gymnasium as gym
from django.conf import settings
from django.db import connections
from gymapi_client.spaces import encode_float

from ..actions import ActionsError, action_count
from ..errors import ApiError, EpisodeNotFound, NotReplayable, ReplaysBusy, ReplayTimeout
from ..models import Episode
from ..runtime import replay as runtime_replay

# Families whose randomness is not all in the generator saved before an unseeded reset (entry point
# prefixes): ALE's emulator has a generator of its own (sticky actions), seeded only by a reset's seed.
OWN_GENERATORS = {"ale_py": "ALE's emulator draws from a generator of its own, which only a reset's seed sets"}


def episode_get(*, episode_id, caller):
    """The recorded episode ``episode_id`` (with its instance), or the 404 of an unknown
    episode, which another key's episode gets too."""
    try:
        pk = int(str(episode_id))
    except ValueError:
        raise EpisodeNotFound(episode_id) from None
    episode = Episode.objects.visible_to(caller).select_related("instance").filter(pk=pk).first()
    if episode is None:
        raise EpisodeNotFound(episode_id)
    return episode


def replay_refusal(episode):
    """Why ``episode`` cannot be replayed, as the ``NotReplayable`` to raise, or None."""
    name = f"Episode {episode.pk}"
    if episode.unreplayable:
        return NotReplayable(f"{name} cannot be replayed: {episode.unreplayable}.")
    if episode.actions is None:
        why = (
            "record_actions was off for its instance (at its creation, or GYMAPI_RECORD_ACTIONS=0)"
            if not episode.instance.record_actions
            else "it was recorded before actions were"
        )
        return NotReplayable(f"{name} cannot be replayed: its actions were not recorded ({why}).",
                             code="actions_not_recorded")
    if episode.seed is None and episode.generator is None:
        return NotReplayable(
            f"{name} cannot be replayed: its reset had no seed, and its environment's random generator could not "
            "be saved before it.",
            code="no_seed",
        )
    env_id = episode.instance.env_id
    try:
        spec = gym.spec(env_id)
    except gym.error.Error:
        return NotReplayable(f"{name} cannot be replayed: {env_id} is not registered on this server.",
                             code="env_unavailable")
    entry_point = spec.entry_point if isinstance(spec.entry_point, str) else ""
    own = next((why for prefix, why in OWN_GENERATORS.items() if entry_point.startswith(prefix)), None)
    if episode.seed is None and own:
        return NotReplayable(
            f"{name} cannot be replayed: its reset had no seed, and {own}: only seeded {env_id} episodes replay.",
            code="no_seed",
        )
    if spec.nondeterministic:
        return NotReplayable(
            f"{name} cannot be replayed: {env_id} is registered as nondeterministic (its spec says so), so the same "
            "seed and actions need not give the same episode.",
            code="not_deterministic",
        )
    limit = settings.GYMAPI_REPLAY_MAX_STEPS
    if limit and episode.steps > limit:
        return NotReplayable(
            f"{name} has {episode.steps} steps, more than this server replays (GYMAPI_REPLAY_MAX_STEPS={limit}).",
            code="replay_too_long",
        )
    try:
        if action_count(episode.actions) != episode.steps:
            return NotReplayable(f"{name} cannot be replayed: its recorded actions do not match its steps.")
    except ActionsError as error:
        return NotReplayable(f"{name} cannot be replayed: {error}.")
    return None


def replay_checked(episode, *, render_mode=None, on_reset=None, on_step=None):
    """Replay ``episode`` in a fresh environment and check it against its row; returns the
    ``Replayed``. Raises ``NotReplayable`` when it cannot be replayed or replays otherwise."""
    refusal = replay_refusal(episode)
    if refusal is not None:
        raise refusal
    instance = episode.instance
    try:
        replayed = runtime_replay.replay(
            env_id=instance.env_id, kwargs=instance.kwargs, max_episode_steps=instance.max_episode_steps,
            seed=episode.seed, options=episode.options, generator=episode.generator, render_mode=render_mode,
            on_reset=on_reset, on_step=on_step, timeout=settings.GYMAPI_REPLAY_TIMEOUT, actions=episode.actions,
        )
    except ApiError:
        raise
    except Exception as error:
        raise NotReplayable(
            f"Episode {episode.pk} could not be replayed: {instance.env_id} raised {type(error).__name__}: {error}",
            code="replay_failed",
        ) from error
    ended = (replayed.terminated, replayed.truncated)
    if (replayed.ended_early or replayed.steps != episode.steps or replayed.total_reward != episode.total_reward
            or ended != (episode.terminated, episode.truncated)):
        outcome = "ended early" if replayed.ended_early else ("terminated" if ended[0] else "truncated" if ended[1] else "not ended")
        raise NotReplayable(
            f"Episode {episode.pk} did not replay as recorded: {replayed.steps} steps, a return of "
            f"{replayed.total_reward!r}, {outcome}, where {episode.steps} steps, {episode.total_reward!r} and "
            f"{episode.outcome} were recorded. {instance.env_id} is not deterministic from "
            f"{'its seed' if episode.seed is not None else 'its saved generator state'} and actions (randomness "
            "kept outside the generator, such as an emulator's, is not recorded).",
            code="not_deterministic",
        )
    return replayed


class _Slots:
    """The replays and renders running in this process, at most ``GYMAPI_MAX_REPLAYS`` (0: no bound)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.busy = 0

    def take(self):
        with self._lock:
            cap = settings.GYMAPI_MAX_REPLAYS
            if cap and self.busy >= cap:
                raise ReplaysBusy(cap)
            self.busy += 1

    def give(self):
        with self._lock:
            self.busy -= 1


slots = _Slots()


def bounded(work, *, what):
    """Run ``work()`` in a worker thread holding one of the process's replay slots and
    return what it returns, or raise what it raised.

    Raises ``ReplaysBusy`` (503) when every slot is taken, and ``ReplayTimeout`` (504)
    when ``work`` runs past ``GYMAPI_REPLAY_TIMEOUT``; ``what`` names it in that error.
    A worker given up on cannot be stopped (Python threads cannot be killed): it keeps
    its slot until it ends, so that abandoned replays still count against the bound.
    """
    slots.take()
    done, outcome = threading.Event(), {}

    def run():
        try:
            outcome["value"] = work()
        except BaseException as error:  # handed to the caller, who raises it
            outcome["error"] = error
        finally:
            connections.close_all()  # this thread's own, should the work have used the database
            slots.give()
            done.set()

    try:
        threading.Thread(target=run, name=f"replay: {what}", daemon=True).start()
    except BaseException:
        slots.give()
        raise
    timeout = settings.GYMAPI_REPLAY_TIMEOUT or None
    if not done.wait(timeout):
        raise ReplayTimeout(
            f"{what} took more than {timeout:g} s (GYMAPI_REPLAY_TIMEOUT) and was given up; the server keeps its "
            "slot (GYMAPI_MAX_REPLAYS) until its environment lets go."
        )
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def episode_replay(*, episode_id, caller):
    """``GET /v1/episodes/{id}/replay/``: the episode re-run from its seed, options and actions."""
    episode = episode_get(episode_id=episode_id, caller=caller)
    refusal = replay_refusal(episode)
    if refusal is not None:  # answered without a slot: nothing would run
        raise refusal
    replayed = bounded(lambda: replay_checked(episode), what=f"The replay of episode {episode.pk}")
    return {
        "reproduced": True,
        "steps": replayed.steps,
        "return": encode_float(replayed.total_reward),
        "recorded_return": encode_float(episode.total_reward),
    }
