"""Live events for people watching, sent over the channel layer.

Two kinds of groups:

- ``envs``: everyone watching the whole server (``ws/envs/``): instances
  created, closed and lost, and episodes finished.
- ``env.<instance id>``: the watchers of one instance (``ws/envs/<id>/``): its
  frames and step events, its finished episodes, its closing.

Watching costs nothing when nobody watches. The number of watchers of each
group is counted here, in the process that holds the environments, and
services look at that count before they build any message. Frames are not
rendered on the step path at all: while an instance has watchers, one task
per instance looks for a change at most ``GYMAPI_STREAM_FPS`` times a second
and publishes the newest frame, skipping the steps in between.

Services run in worker threads; their messages are handed to the event loop
that serves the watchers and never awaited, so a slow or vanished viewer never
holds up a step.
"""

import asyncio
import logging
import threading
from collections import Counter

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from envs import rendering
from envs.runtime import runtime
from envs.spaces import encode_float

logger = logging.getLogger(__name__)

SERVER_GROUP = "envs"


def instance_group(instance_id):
    return f"env.{instance_id}"


class Watchers:
    """Who watches what in this process, the loop that serves them, and one
    frame publisher per watched instance."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts = Counter()
        self._publishers = {}
        self.loop = None

    def count(self, group):
        return self._counts.get(group, 0)

    def join(self, group, *, instance_id=None):
        """A watcher joined ``group``; call from the event loop that serves it.

        With ``instance_id``, makes sure the instance's frame publisher runs;
        returns True when it started one, which sends the current frame first.
        """
        loop = asyncio.get_running_loop()
        with self._lock:
            self.loop = loop
            self._counts[group] += 1
            if instance_id is not None:
                task = self._publishers.get(group)
                if task is None or task.done():
                    self._publishers[group] = loop.create_task(_publish_frames(str(instance_id)))
                    return True
        return False

    def leave(self, group):
        """A watcher left ``group``; the last one out stops its publisher."""
        with self._lock:
            self._counts[group] -= 1
            if self._counts[group] > 0:
                return
            del self._counts[group]
            task = self._publishers.pop(group, None)
        if task is not None:
            task.cancel()

    def send(self, group, message):
        """Hand ``message`` to the channel layer without waiting for it; no-op when unwatched."""
        loop = self.loop
        if not self.count(group) or loop is None or loop.is_closed():
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


async def _publish_frames(instance_id):
    """While ``instance_id`` has watchers: publish its newest frame whenever it changed,
    at most ``GYMAPI_STREAM_FPS`` times a second."""
    group = instance_group(instance_id)
    layer = get_channel_layer()
    interval = 1.0 / settings.GYMAPI_STREAM_FPS
    published = None
    try:
        while watchers.count(group):
            live = runtime.get(instance_id)
            if live is None or live.closed:
                return
            if live.version != published:
                frame = await sync_to_async(rendering.viewer_frame, thread_sensitive=False)(live)
                if frame is not None and frame.version != published:
                    published = frame.version
                    await layer.group_send(group, frame_message(instance_id, frame))
            await asyncio.sleep(interval)
    except asyncio.CancelledError:
        raise
    except Exception:
        logger.exception("The frame publisher of %s stopped", instance_id)


def frame_message(instance_id, frame):
    return {"type": "instance.frame", "event": frame.event(instance_id), "image": frame.image}


# --- what services publish --------------------------------------------------


# Messages to the server's group carry the instance's "owner" (its key's id,
# None without one) beside the event: each watcher of ws/envs/ forwards only
# the events of instances it may see (monitor/consumers.py).


def instance_created(instance):
    """A new instance: the server's watchers add a tile for it."""
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
    """An instance was closed or lost (``status``): its tile goes, its watchers are told.

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


def episode_finished(live):
    """An episode ended (terminated, truncated, or interrupted by a reset).

    Call with the instance's lock held, before anything changes its counters
    (a reset calls it before resetting).
    """
    group = instance_group(live.instance_id)
    if not (watchers.count(SERVER_GROUP) or watchers.count(group)):
        return
    message = {
        "type": "episode.finished",
        "owner": live.owner_id,
        "event": {
            "type": "episode_finished",
            "instance_id": live.instance_id,
            "env_id": live.env_id,
            "episode": live.episode_number,
            "steps": live.episode_steps,
            "return": encode_float(live.episode_return),
            "terminated": live.terminated,
            "truncated": live.truncated,
        },
    }
    watchers.send(SERVER_GROUP, message)
    watchers.send(group, message)
