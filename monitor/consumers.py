"""WebSocket consumers for watching environments.

``ws/envs/``: the whole server: a snapshot of the active instances on
arrival, then ``created``, ``closed``, ``lost`` and ``episode_finished`` events.

``ws/envs/<id>/``: one instance: its description on arrival, then a ``step``
event (episode, step, reward, return, terminated, truncated) whenever it
changed, at most ``GYMAPI_STREAM_FPS`` a second, each followed by the frame
as a binary JPEG message when the event's ``frame`` names one;
``episode_finished`` events; and ``closed`` or ``lost``, after which the server
closes the socket. An unknown, closed or lost instance gets an ``error`` event
in the API's error shape and the close code 4000 + the HTTP status (4404, 4410).

Watchers only listen: whatever they send is ignored.
"""

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from envs.errors import ApiError
from envs.rendering import viewer_frame
from envs.services import live_get

from .broadcast import SERVER_GROUP, instance_group, watchers
from .selectors import instance_overview


class WatcherConsumer(AsyncJsonWebsocketConsumer):
    """Joins one group on connect and counts itself as its watcher until it leaves."""

    group = None

    async def join(self, group, **kwargs):
        await self.channel_layer.group_add(group, self.channel_name)
        self.group = group
        return watchers.join(group, **kwargs)

    async def disconnect(self, code):
        if self.group is not None:
            group, self.group = self.group, None
            watchers.leave(group)
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        pass

    async def forward(self, message):
        await self.send_json(message["event"])


class InstanceConsumer(WatcherConsumer):
    """ws/envs/<id>/: one instance's frames and events."""

    ended = False

    async def connect(self):
        await self.accept()
        try:
            live = await database_sync_to_async(live_get)(self.scope["url_route"]["kwargs"]["instance_id"])
        except ApiError as error:
            await self.send_json({"type": "error", "detail": str(error.detail), "code": error.get_codes()})
            await self.close(code=4000 + error.status_code)
            return
        await self.send_json(
            {"type": "instance", "instance_id": live.instance_id, "env_id": live.env_id, "render_mode": live.render_mode}
        )
        started_publisher = await self.join(instance_group(live.instance_id), instance_id=live.instance_id)
        if live.closed:
            # Closed while this watcher was joining, maybe before anyone was
            # counted to tell: say so now (a duplicate "closed" is ignored).
            await self.instance_closed({"event": {"type": "closed", "instance_id": live.instance_id}})
            return
        if not started_publisher:
            # The publisher sends only what changes from now on; this watcher
            # needs the current picture. (A new publisher starts with it.)
            frame = await sync_to_async(viewer_frame, thread_sensitive=False)(live)
            if frame is not None:
                await self.send_frame(frame.event(live.instance_id), frame.image)

    async def send_frame(self, event, image):
        await self.send_json(event)
        if image is not None:
            await self.send(bytes_data=image)

    async def instance_frame(self, message):
        if not self.ended:  # a frame published just before the close may arrive after it
            await self.send_frame(message["event"], message["image"])

    episode_finished = WatcherConsumer.forward

    async def instance_closed(self, message):
        if self.ended:
            return
        self.ended = True
        await self.send_json(message["event"])
        await self.close(code=1000)  # a normal end: what was watched is over

    instance_lost = instance_closed


class ServerConsumer(WatcherConsumer):
    """ws/envs/: instances appearing, ending, and finishing episodes, server-wide."""

    async def connect(self):
        await self.accept()
        # Join before reading the snapshot: nothing that happens in between is missed.
        await self.join(SERVER_GROUP)
        instances = await database_sync_to_async(instance_overview)()
        await self.send_json({"type": "instances", "instances": instances})

    instance_created = WatcherConsumer.forward
    instance_closed = WatcherConsumer.forward
    instance_lost = WatcherConsumer.forward
    episode_finished = WatcherConsumer.forward
