"""Frames for the watchers of one instance (``ws/envs/<id>/``).

Frames are not rendered on the step path at all: while an instance has
watchers, one task per instance looks for a change at most
``GYMAPI_STREAM_FPS`` times a second and publishes the newest frame to the
instance's group, skipping the steps in between. The watchers themselves are
counted by ``envs.events``.
"""

import asyncio
import logging

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from envs import rendering
from envs.events import instance_group, watchers
from envs.runtime import SINGLE, runtime

logger = logging.getLogger(__name__)

# No frame yet: unlike any version, the None of an instance whose version only its actor knows included.
UNSEEN = object()

_publishers = {}  # instance group -> its publishing task


def watch(instance_id):
    """A watcher joined ``instance_id``'s group (on the loop that serves it). Returns True
    when that started the instance's publisher, which sends the current frame first."""
    group = instance_group(instance_id)
    watchers.join(group)
    task = _publishers.get(group)
    if task is None or task.done():
        _publishers[group] = asyncio.get_running_loop().create_task(_publish_frames(str(instance_id)))
        return True
    return False


def unwatch(instance_id):
    """A watcher left ``instance_id``'s group; the last one out stops its publisher."""
    group = instance_group(instance_id)
    if watchers.leave(group):
        task = _publishers.pop(group, None)
        if task is not None:
            task.cancel()


async def _publish_frames(instance_id):
    """While ``instance_id`` has watchers: publish its newest frame whenever it changed,
    at most ``GYMAPI_STREAM_FPS`` times a second."""
    group = instance_group(instance_id)
    layer = get_channel_layer()
    interval = 1.0 / settings.GYMAPI_STREAM_FPS
    published = UNSEEN
    try:
        while watchers.count(group):
            live = runtime.get(instance_id, SINGLE)
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
