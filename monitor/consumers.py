"""WebSocket consumers for watching environments.

``ws/envs/``: the whole server: a snapshot of the active instances on
arrival, then ``created``, ``closed``, ``lost``, ``reaped``, ``broken`` and ``episode_finished`` events.

``ws/envs/<id>/``: one instance: its description on arrival, then a ``step``
event (episode, step, reward, return, terminated, truncated) whenever it
changed, at most ``GYMAPI_STREAM_FPS`` a second, each followed by the frame
as a binary JPEG message when the event's ``frame`` names one;
``episode_finished`` events; and ``closed``, ``lost``, ``reaped`` or ``broken``, after which the server
closes the socket. An unknown, closed or lost instance gets an ``error`` event
in the API's error shape and the close code 4000 + the HTTP status (4404, 4410).

Watchers only listen: whatever they send is ignored, except, when the server
requires keys, the first message ``{"op": "auth", "key": "<key>"}`` of a socket
that named no key as ``?key=<key>``. A key sees its own instances only: the
snapshot and events of ``ws/envs/`` are filtered, and another key's instance
on ``ws/envs/<id>/`` is the error of an unknown one (4404). A logged-in staff
user's browser on this server's own origin sees everything (the monitor pages).
Without any of these, the socket gets an ``error`` event and is closed with 4401.
"""

import asyncio
import json


from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from envs import access
from envs.errors import ApiError, error_body
from envs.events import SERVER_GROUP, instance_group, watchers
from envs.rendering import viewer_frame
from envs.runtime import SINGLE
from envs.services.instances import instance_get

from . import frames
from .selectors import instance_overview


def _live_for(caller, instance_id):
    access.check_instance(caller, instance_id)
    return instance_get(instance_id, SINGLE)


class WatcherConsumer(AsyncJsonWebsocketConsumer):
    """Joins one group on connect and counts itself as its watcher until it leaves.

    Subclasses do their work in ``start()``, once the caller is known.
    """

    group = None
    caller = access.ANYONE
    awaiting_auth = False

    async def connect(self):
        await self.accept()
        if settings.GYMAPI_REQUIRE_KEYS:
            try:
                self.caller = await database_sync_to_async(access.socket_caller)(self.scope, session=True)
            except access.NotAuthenticated as error:
                if access.query_key(self.scope) is not None:  # a wrong ?key=
                    return await self.refuse(error)
                self.awaiting_auth = True  # the key may come as the first message
                self.auth_timer = asyncio.get_running_loop().create_task(self.close_unless_authenticated())
                return
            self.watch_key(access.query_key(self.scope))
        await self.start()

    def watch_key(self, key):
        """Look ``key`` up again every GYMAPI_KEY_CACHE_SECONDS while the socket is open:
        a revoked key's watcher is closed (4401) as its step sockets are."""
        if key is not None:
            self.key_timer = asyncio.get_running_loop().create_task(self.close_when_revoked(key))

    async def close_when_revoked(self, key):
        while True:
            await asyncio.sleep(max(settings.GYMAPI_KEY_CACHE_SECONDS, 0.05))
            try:
                await database_sync_to_async(access.keys.lookup)(key)
            except access.NotAuthenticated as error:
                return await self.refuse(error)

    async def close_unless_authenticated(self):
        await asyncio.sleep(settings.GYMAPI_AUTH_TIMEOUT)
        if self.awaiting_auth:
            self.awaiting_auth = False
            await self.refuse(access.auth_timed_out())

    async def start(self):
        raise NotImplementedError

    async def refuse(self, error):
        status, body, _ = error_body(error)
        await self.send_json({"type": "error", **body})
        await self.close(code=4000 + status)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if not self.awaiting_auth:
            return  # watchers only listen
        self.awaiting_auth = False
        try:
            message = json.loads(text_data) if text_data is not None else None
        except ValueError:
            message = None
        key = access.auth_message_key(message)
        try:
            if key is None:
                raise access.NotAuthenticated()
            self.caller = await database_sync_to_async(access.socket_caller)(self.scope, key=key)
        except access.NotAuthenticated as error:
            return await self.refuse(error)
        self.watch_key(key)
        await self.start()

    async def join(self, group):
        await self.channel_layer.group_add(group, self.channel_name)
        self.group = group
        return self.count_in()

    def count_in(self):
        """Count this watcher in its group (``envs.events``); returns what the subclass needs."""
        watchers.join(self.group)

    def count_out(self):
        watchers.leave(self.group)

    async def disconnect(self, code):
        for timer in (getattr(self, "auth_timer", None), getattr(self, "key_timer", None)):
            if timer is not None:
                timer.cancel()
        if self.group is not None:
            self.count_out()
            group, self.group = self.group, None
            await self.channel_layer.group_discard(group, self.channel_name)

    async def forward(self, message):
        await self.send_json(message["event"])

    async def forward_visible(self, message):
        """An event of the server's group, sent on when its instance's owner is visible to this watcher."""
        if self.caller.sees_all or message.get("owner") == self.caller.key_id:
            await self.send_json(message["event"])


class InstanceConsumer(WatcherConsumer):
    """ws/envs/<id>/: one instance's frames and events."""

    ended = False
    instance_id = None

    def count_in(self):
        # The instance's frame publisher runs while it has watchers (monitor/frames.py).
        return frames.watch(self.instance_id)

    def count_out(self):
        frames.unwatch(self.instance_id)

    async def start(self):
        try:
            live = await database_sync_to_async(_live_for)(self.caller, self.scope["url_route"]["kwargs"]["instance_id"])
        except ApiError as error:
            return await self.refuse(error)
        await self.send_json(
            {"type": "instance", "instance_id": live.instance_id, "env_id": live.env_id, "render_mode": live.render_mode}
        )
        self.instance_id = live.instance_id
        started_publisher = await self.join(instance_group(live.instance_id))
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

    instance_lost = instance_reaped = instance_broken = instance_closed


class ServerConsumer(WatcherConsumer):
    """ws/envs/: instances appearing, ending, and finishing episodes, server-wide."""

    async def start(self):
        # Join before reading the snapshot: nothing that happens in between is missed.
        await self.join(SERVER_GROUP)
        instances = await database_sync_to_async(instance_overview)(caller=self.caller)
        await self.send_json({"type": "instances", "instances": instances})

    instance_created = WatcherConsumer.forward_visible
    instance_closed = WatcherConsumer.forward_visible
    instance_lost = WatcherConsumer.forward_visible
    instance_reaped = WatcherConsumer.forward_visible  # closed for being idle (GYMAPI_IDLE_SECONDS)
    instance_broken = WatcherConsumer.forward_visible  # its environment raised or hung
    episode_finished = WatcherConsumer.forward_visible
