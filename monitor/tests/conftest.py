"""Fixtures for the monitor's tests: channel layers, WebSocket watchers, browsers."""

import contextlib
import json
import os
import urllib.error
import urllib.request
import uuid
from pathlib import Path

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


# --- browsers ---------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(os.getenv("GYMAPI_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))
# As a root process in a container, with no network beyond loopback: no sandbox,
# and none of the background traffic that would fail at every start.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium driven by Playwright (never a downloaded browser).

    One per test module: Playwright's synchronous API keeps an event loop
    running on this thread while it is open, which the async tests of other
    modules could not start beside.
    """
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} is missing (apt-get install chromium)"
        if IN_CI:
            pytest.fail(f"{message}, and CI needs it.")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@contextlib.contextmanager
def no_page_errors(page):
    """Fail the test when a JavaScript error happens on ``page`` while the block runs."""
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield
    assert errors == []


@pytest.fixture
def page(browser):
    """A fresh browser page; a JavaScript error on it fails the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(30_000)
    page = context.new_page()
    with no_page_errors(page):
        yield page
        context.close()


def save_screenshot(page, name):
    """Save a full-page screenshot under test-artifacts/ (or $GYMAPI_TEST_ARTIFACTS) and print where."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


class Api:
    """A plain HTTP client of the test server, stepping instances while a browser watches."""

    def __init__(self, base_url):
        self.base_url = base_url

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if body is not None else {}
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
            return json.loads(text) if text else None

    def create(self, env_id="CartPole-v1", **fields):
        return self.call("POST", "/v1/envs/", {"env_id": env_id, **fields})["instance_id"]

    def reset(self, instance_id, **fields):
        return self.call("POST", f"/v1/envs/{instance_id}/reset/", fields)

    def step(self, instance_id, action):
        return self.call("POST", f"/v1/envs/{instance_id}/step/", {"action": action})

    def close(self, instance_id):
        self.call("DELETE", f"/v1/envs/{instance_id}/")

    def run_episode(self, instance_id, policy, seed=None):
        """Reset and step with ``policy(observation)`` until the episode ends; returns its length."""
        observation = self.reset(instance_id, **({} if seed is None else {"seed": seed}))["observation"]
        steps = 0
        while True:
            body = self.step(instance_id, policy(observation))
            observation, steps = body["observation"], steps + 1
            if body["done"]:
                return steps


@pytest.fixture
def server_api(server):
    """An Api on the test server; the instances a test leaves active are closed after it."""
    api = Api(server.url)
    before = set(api.call("GET", "/v1/envs/"))
    yield api
    for instance_id in set(api.call("GET", "/v1/envs/")) - before:
        try:
            api.close(instance_id)
        except urllib.error.HTTPError:
            pass
