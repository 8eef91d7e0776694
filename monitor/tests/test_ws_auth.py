"""Keys on the watch sockets (ws/envs/, ws/envs/{id}/), when the server requires them.

A watcher names its key as ?key= or in a first message {"op": "auth", "key"},
or comes from a logged-in staff user's page on this server's own origin (who
sees everything). A key sees its own instances only: in the snapshot, in the
events, and on ws/envs/{id}/. Anything else gets an error event and 4401.

Every test runs on the in-memory channel layer and on Redis.
"""

import json
import uuid

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.test import Client


from envs import access
from envs.access import keys
from envs.models import ApiKey

from .helpers import close, create, reset, step

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def keys_on(settings):
    settings.GYMAPI_REQUIRE_KEYS = True
    keys.forget()
    yield settings
    keys.forget()


class Watcher:
    def __init__(self, path, headers=()):
        from gymapi.asgi import application

        self.communicator = WebsocketCommunicator(application, path, headers=list(headers))

    async def receive(self, timeout=10):
        message = await self.communicator.receive_output(timeout)
        if message["type"] == "websocket.close":
            return message
        return json.loads(message["text"]) if message.get("text") is not None else message["bytes"]

    async def receive_event(self, kind):
        while True:
            message = await self.receive()
            if isinstance(message, dict) and message.get("type") == kind:
                return message


@pytest_asyncio.fixture
async def watch(channel_layer):
    opened = []

    async def open_watcher(path, headers=()):
        watcher = Watcher(path, headers)
        connected, _ = await watcher.communicator.connect(timeout=10)
        assert connected
        opened.append(watcher)
        return watcher

    yield open_watcher
    for watcher in opened:
        await watcher.communicator.disconnect()


async def key(name):
    api_key, secret = await sync_to_async(ApiKey.objects.create_key)(name=name)
    return api_key.id, secret


async def instance_of(owner_id, render_mode="rgb_array"):
    instance = await create(env_id="CartPole-v1", render_mode=render_mode, owner_id=owner_id)
    await reset(instance_id=instance.id, seed=1)
    return str(instance.id)


async def assert_refused(watcher, code):
    error = await watcher.receive()
    assert error["type"] == "error" and error["code"] == code, error
    closing = await watcher.receive()
    assert closing == {"type": "websocket.close", "code": 4401}


async def test_without_a_key_a_watcher_is_refused_after_its_first_message(keys_on, watch):
    watcher = await watch("/ws/envs/")
    assert await watcher.communicator.receive_nothing(timeout=0.2)  # no snapshot before a key
    await watcher.communicator.send_to(text_data=json.dumps({"op": "hello"}))
    await assert_refused(watcher, "not_authenticated")


async def test_a_wrong_key_in_the_url_is_refused_at_once(keys_on, watch):
    _, alice = await key("alice")
    await assert_refused(await watch(f"/ws/envs/?key={alice}x"), "invalid_key")
    await assert_refused(await watch(f"/ws/envs/{uuid.uuid4()}/?key=gk_nobody"), "invalid_key")


@pytest.mark.parametrize("how", ["query", "first message"])
async def test_a_key_sees_its_own_instances_in_the_snapshot_and_the_events(keys_on, watch, how):
    alice_id, alice = await key("alice")
    bob_id, _ = await key("bob")
    mine, theirs = await instance_of(alice_id), await instance_of(bob_id)
    if how == "query":
        watcher = await watch(f"/ws/envs/?key={alice}")
    else:
        watcher = await watch("/ws/envs/")
        await watcher.communicator.send_to(text_data=json.dumps({"op": "auth", "key": alice}))
    snapshot = await watcher.receive()
    assert [item["instance_id"] for item in snapshot["instances"]] == [mine]
    await reset(instance_id=theirs)  # bob's episode ends (interrupted)
    await close(instance_id=theirs)  # bob's instance closes
    await instance_of(bob_id)  # bob's new instance appears
    newer = await instance_of(alice_id)
    await reset(instance_id=mine)  # alice's episode ends (interrupted)
    seen = [await watcher.receive(), await watcher.receive()]  # in either order: each is published on its own
    assert sorted((event["type"], event["instance_id"]) for event in seen) == [
        ("created", newer), ("episode_finished", mine)
    ]
    assert await watcher.communicator.receive_nothing(timeout=0.3)  # nothing of bob's


async def test_another_keys_instance_is_watched_as_an_unknown_one(keys_on, watch):
    alice_id, _ = await key("alice")
    _, bob = await key("bob")
    theirs, unknown = await instance_of(alice_id), str(uuid.uuid4())
    answers = []
    for instance_id in (theirs, unknown):
        watcher = await watch(f"/ws/envs/{instance_id}/?key={bob}")
        error = await watcher.receive()
        closing = await watcher.receive()
        answers.append((json.dumps(error).replace(instance_id, "<id>"), closing["code"]))
    assert answers[0] == answers[1] and answers[0][1] == 4404


async def test_the_owner_watches_its_instance(keys_on, watch):
    alice_id, alice = await key("alice")
    mine = await instance_of(alice_id)
    watcher = await watch(f"/ws/envs/{mine}/")
    await watcher.communicator.send_to(text_data=json.dumps({"op": "auth", "key": alice}))
    hello = await watcher.receive()
    assert hello["type"] == "instance" and hello["instance_id"] == mine
    assert (await watcher.receive_event("step"))["episode"] == 1


# --- a staff login (the monitor pages) ------------------------------------------------


async def session_cookie(**flags):
    def login():
        client = Client()
        client.force_login(User.objects.create_user(f"user-{uuid.uuid4().hex[:6]}", password="pw", **flags))
        return client.cookies["sessionid"].value

    return await sync_to_async(login)()


def browser_headers(session, origin="http://testserver"):
    return [(b"host", b"testserver"), (b"origin", origin.encode()), (b"cookie", f"sessionid={session}".encode())]


async def test_a_staff_login_on_this_origin_sees_every_instance(keys_on, watch):
    alice_id, _ = await key("alice")
    bob_id, _ = await key("bob")
    both = [await instance_of(alice_id), await instance_of(bob_id)]
    session = await session_cookie(is_staff=True)
    watcher = await watch("/ws/envs/", browser_headers(session))
    assert [item["instance_id"] for item in (await watcher.receive())["instances"]] == both
    single = await watch(f"/ws/envs/{both[1]}/", browser_headers(session))
    assert (await single.receive())["type"] == "instance"


@pytest.mark.parametrize(
    "flags, origin", [({"is_staff": True}, "http://evil.example"), ({}, "http://testserver")], ids=["other origin", "not staff"]
)
async def test_a_login_from_another_origin_or_without_staff_is_not_enough(keys_on, watch, flags, origin):
    session = await session_cookie(**flags)
    watcher = await watch("/ws/envs/", browser_headers(session, origin))
    assert await watcher.communicator.receive_nothing(timeout=0.2)
    await watcher.communicator.send_to(text_data="{}")
    await assert_refused(watcher, "not_authenticated")


async def test_keys_off_a_watcher_needs_nothing(watch):
    watcher = await watch("/ws/envs/")
    assert (await watcher.receive())["type"] == "instances"


async def test_a_watcher_that_sends_no_key_in_time_is_closed(keys_on, watch):
    keys_on.GYMAPI_AUTH_TIMEOUT = 0.2
    watcher = await watch("/ws/envs/")
    error = await watcher.receive()  # nothing sent at all
    assert (error["type"], error["code"]) == ("error", "not_authenticated")
    assert "GYMAPI_AUTH_TIMEOUT" in error["detail"]
    assert (await watcher.receive())["code"] == 4401


@pytest.mark.parametrize("how", ["query", "first message"])
async def test_a_watcher_whose_key_is_revoked_is_closed(keys_on, watch, how):
    keys_on.GYMAPI_KEY_CACHE_SECONDS = 0.1
    alice_id, alice = await key("alice")
    if how == "query":
        watcher = await watch(f"/ws/envs/?key={alice}")
    else:
        watcher = await watch("/ws/envs/")
        await watcher.communicator.send_to(text_data=json.dumps({"op": "auth", "key": alice}))
    assert (await watcher.receive())["type"] == "instances"
    api_key = await sync_to_async(ApiKey.objects.get)(pk=alice_id)
    await sync_to_async(access.key_revoke)(api_key)
    await assert_refused(watcher, "key_revoked")
