"""Events for people watching: what services publish, sent over the channel layer.

Two kinds of groups:

- ``envs``: everyone watching the whole server (``ws/envs/``): instances
  created, closed, lost, reaped and broken, and episodes finished.
- ``env.<instance id>``: the watchers of one instance (``ws/envs/<id>/``): its
  frames and step events, its finished episodes, its closing.

Watching costs nothing when nobody watches: the watchers of each group are
counted here (the monitor's consumers join and leave), and nothing is built
for a group nobody watches. Messages are handed to the event loop that serves
the watchers and never awaited, so a slow or vanished viewer never holds up a
step. The monitor app subscribes to these groups; this module never imports it.
"""

import asyncio
import logging
import threading
from collections import Counter

from channels.layers import get_channel_layer
from gymapi_client.spaces import encode_float

from .runtime import SINGLE

logger = logging.getLogger(__name__)

SERVER_GROUP = "envs"


def instance_group(instance_id):
    return f"env.{instance_id}"


class Watchers:
    """Who watches what in this process, and the loop that serves them."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts = Counter()
        self.loop = None
        # Publish whether or not anyone watches here: behind several fronts (the Ray
        # runtime), the watchers of an instance may be another front's.
        self.everywhere = False

    def count(self, group):
        return self._counts.get(group, 0)

    def join(self, group):
        """A watcher joined ``group``; call from the event loop that serves it. Returns
        whether it is the group's first."""
        with self._lock:
            self.loop = asyncio.get_running_loop()
            self._counts[group] += 1
            return self._counts[group] == 1

    def leave(self, group):
        """A watcher left ``group``; returns whether it was the last."""
        with self._lock:
            self._counts[group] -= 1
            if self._counts[group] > 0:
                return False
            del self._counts[group]
            return True

    def send(self, group, message):
        """Hand ``message`` to the channel layer without waiting for it; no-op when unwatched
        here, unless ``everywhere`` (the Ray runtime: watchers of another front may watch)."""
        loop = self.loop
        if not (self.everywhere or self.count(group)) or loop is None or loop.is_closed():
            return
        try:
            future = asyncio.run_coroutine_threadsafe(get_channel_layer().group_send(group, message), loop)
        except RuntimeError:  # the loop is shutting down
            return
        future.add_done_callback(_log_failure)


def _log_failure(future):
    if not future.cancelled() and future.exception() is not None:
        logger.warning("Could not publish a monitor event: %r", future.exception())


watchers = Watchers()


# Messages to the server's group carry the instance's "owner" (its key's id,
# None without one) beside the event: each watcher of ws/envs/ forwards only
# the events of instances it may see (monitor/consumers.py).


def instance_created(instance):
    """A new instance (an ``EnvInstance``): the server's watchers add a tile for it."""
    watchers.send(
        SERVER_GROUP,
        {
            "type": "instance.created",
            "owner": instance.owner_id,
            "event": {
                "type": "created",
                "instance_id": str(instance.id),
                "env_id": instance.env_id,
                "render_mode": instance.render_mode,
                "created": instance.created_at.isoformat(),
            },
        },
    )


def instance_ended(instance_id, status, *, owner_id=None):
    """An instance was closed, lost, reaped or broke (``status``): its tile goes, its watchers are told.

    ``owner_id``: the instance's key; without it, only watchers who see everything hear of it.
    """
    status = str(status)  # a TextChoices member is a str subclass; the wire wants a plain one
    message = {
        "type": f"instance.{status}",
        "owner": owner_id,
        "event": {"type": status, "instance_id": str(instance_id)},
    }
    watchers.send(SERVER_GROUP, message)
    watchers.send(instance_group(instance_id), message)


def episode_row_finished(live, row):
    """An episode ended whose row (``recording.episodes.EpisodeRow``) a front is about to
    write: ``episode_finished`` for a single instance held elsewhere (the Ray runtime)."""
    if live.kind != SINGLE or row.ended is None:
        return
    _episode_finished(live, row.number, row.steps, row.total_reward, row.terminated, row.truncated)


def episode_finished(live):
    """An episode of a single instance ended (terminated, truncated, or interrupted by a reset).

    Call with the instance's lock held, before anything changes its counters
    (a reset calls it before resetting).
    """
    if not (watchers.count(SERVER_GROUP) or watchers.count(instance_group(live.instance_id))):
        return
    _episode_finished(
        live, live.episode_number, live.episode_steps, live.episode_return, live.terminated, live.truncated
    )


def _episode_finished(live, number, steps, total, terminated, truncated):
    message = {
        "type": "episode.finished",
        "owner": live.owner_id,
        "event": {
            "type": "episode_finished",
            "instance_id": live.instance_id,
            "env_id": live.env_id,
            "episode": number,
            "steps": steps,
            "return": encode_float(total),
            "terminated": terminated,
            "truncated": truncated,
        },
    }
    watchers.send(SERVER_GROUP, message)
    watchers.send(instance_group(live.instance_id), message)
