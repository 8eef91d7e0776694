"""Fixtures for the monitor's tests: channel layers, WebSocket watchers, browsers."""

import json
import os
import uuid

import pytest
import pytest_asyncio
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

# The Redis that CI runs beside the suite; elsewhere its tests skip when it is down.
TEST_REDIS_URL = os.getenv("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.getenv("CI") == "true"


def redis_reachable(url):
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest_asyncio.fixture(params=["memory", "redis"])
async def channel_layer(request, settings):
    """Each WebSocket test runs on the in-memory layer and on Redis (channels_redis)."""
    if request.param == "redis":
        if not redis_reachable(TEST_REDIS_URL):
            message = f"Redis at {TEST_REDIS_URL} is not reachable"
            if IN_CI:
                pytest.fail(f"{message}, and CI needs it.")
            pytest.skip(message)
        settings.CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                # A prefix of its own: other test runs may share this Redis.
                "CONFIG": {"hosts": [TEST_REDIS_URL], "prefix": f"gymapi-test-{uuid.uuid4().hex}"},
            }
        }
    else:
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    layer = get_channel_layer()
    yield layer
    if request.param == "redis":
        await layer.flush()
        await layer.close_pools()


class Watcher:
    """A WebSocket client of the real ASGI application, with helpers to read
    the monitor's JSON events and binary frames."""

    def __init__(self, path):
        from gymapi.asgi import application

        self.communicator = WebsocketCommunicator(application, path)

    async def connect(self):
        connected, _ = await self.communicator.connect(timeout=10)
        assert connected
        return self

    async def receive(self, timeout=10):
        """The next message: a dict for JSON events, bytes for frames."""
        message = await self.communicator.receive_output(timeout)
        if message["type"] == "websocket.close":
            return message
        assert message["type"] == "websocket.send", message
        if message.get("bytes") is not None:
            return message["bytes"]
        return json.loads(message["text"])

    async def receive_event(self, kind, timeout=10):
        """Read until an event of type ``kind``; returns it and the frames seen on the way."""
        frames = []
        while True:
            message = await self.receive(timeout)
            if isinstance(message, bytes):
                frames.append(message)
            elif message.get("type") == kind:
                return message, frames

    async def nothing_waiting(self):
        return await self.communicator.receive_nothing(timeout=0.2)

    async def disconnect(self):
        await self.communicator.disconnect()


@pytest_asyncio.fixture
async def watch(channel_layer):
    """``await watch(path)``: a connected Watcher; every one is disconnected at the end."""
    opened = []

    async def open_watcher(path):
        watcher = Watcher(path)
        opened.append(watcher)
        return await watcher.connect()

    yield open_watcher
    for watcher in opened:
        await watcher.disconnect()
