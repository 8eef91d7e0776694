"""Keys on the step sockets (ws/step/, ws/envs/{id}/step/), when the server requires them.

A socket names its key as ?key= or in its first message {"op": "auth", "key"};
without a valid one it gets the error (status 401) and is closed with 4401. It
creates for its key and drives its key's instances only: another key's id is
answered as an unknown one.
"""

import json
import re
import uuid

import msgpack
import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from envs import access, binary
from envs.models import ApiKey, EnvInstance
from envs.runtime import runtime

from . import drive
from .keyed import keys_on, new_key  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


class Socket:
    def __init__(self, path):
        from gymapi.asgi import application

        self.communicator = WebsocketCommunicator(application, path)

    async def open(self):
        connected, _ = await self.communicator.connect(timeout=10)
        assert connected
        return self

    async def send(self, message):
        await self.communicator.send_to(text_data=json.dumps(message))

    async def ask(self, message):
        await self.send(message)
        return await self.answer()

    async def answer(self):
        reply = await self.communicator.receive_output(10)
        assert reply["type"] == "websocket.send", reply
        return json.loads(reply["text"]) if reply.get("text") is not None else binary.loads(reply["bytes"])

    async def closed_with(self):
        reply = await self.communicator.receive_output(10)
        assert reply["type"] == "websocket.close", reply
        return reply["code"]

    async def close(self):
        await self.communicator.disconnect()


@pytest_asyncio.fixture
async def sockets():
    opened = []

    async def open_socket(path):
        socket = await Socket(path).open()
        opened.append(socket)
        return socket

    yield open_socket
    for socket in opened:
        await socket.close()


@pytest.fixture
def keys(keys_on):
    return sync_to_async(new_key)


async def test_without_a_key_the_first_message_is_refused_and_the_socket_closed(keys_on, sockets):
    socket = await sockets("/ws/step/")
    error = await socket.ask({"op": "create", "env_id": "CartPole-v1", "id": 1})
    assert (error["status"], error["code"], error["id"]) == (401, "not_authenticated", 1)
    assert "auth" in error["detail"]
    assert await socket.closed_with() == 4401
    assert not await EnvInstance.objects.aexists()


async def test_a_wrong_key_in_the_url_is_refused_at_once(keys_on, keys, sockets):
    alice = await keys("alice")
    socket = await sockets(f"/ws/step/?key={alice}x")
    error = await socket.answer()
    assert (error["status"], error["code"]) == (401, "invalid_key")
    assert await socket.closed_with() == 4401


async def test_a_wrong_key_in_the_first_message_is_refused(keys_on, keys, sockets):
    alice = await keys("alice")
    socket = await sockets("/ws/step/")
    error = await socket.ask({"op": "auth", "key": alice[:-1]})
    assert (error["status"], error["code"]) == (401, "invalid_key")
    assert await socket.closed_with() == 4401


async def test_a_key_in_the_first_message_opens_the_socket(keys_on, keys, sockets):
    alice = await keys("alice")
    socket = await sockets("/ws/step/")
    assert await socket.ask({"op": "auth", "key": alice, "id": "a"}) == {"authenticated": True, "id": "a"}
    created = await socket.ask({"op": "create", "env_id": "CartPole-v1"})
    instance = await EnvInstance.objects.select_related("owner").aget(pk=created["instance_id"])
    assert instance.owner.name == "alice"
    reset = await socket.ask({"op": "reset", "instance_id": created["instance_id"]})
    assert set(reset) == {"observation", "info"}
    assert await socket.ask({"op": "auth", "key": "anything"}) == {"authenticated": True}  # the first key stays


async def test_a_msgpack_auth_message_is_answered_in_msgpack(keys_on, keys, sockets):
    alice = await keys("alice")
    socket = await sockets("/ws/step/")
    await socket.communicator.send_to(bytes_data=msgpack.packb({"op": "auth", "key": alice}))
    assert await socket.answer() == {"authenticated": True}


async def test_a_socket_drives_its_keys_instances_only(keys_on, keys, sockets):
    alice, bob = await keys("alice"), await keys("bob")
    mine = await sockets(f"/ws/step/?key={alice}")
    instance_id = (await mine.ask({"op": "create", "env_id": "CartPole-v1", "seed": 1}))["instance_id"]
    await mine.ask({"op": "reset", "instance_id": instance_id})
    await mine.ask({"op": "step", "instance_id": instance_id, "action": 0})  # its calls go on the loop now
    theirs = await sockets(f"/ws/step/?key={bob}")
    unknown = str(uuid.uuid4())
    for op in ({"op": "step", "action": 1}, {"op": "reset"}, {"op": "sample"}, {"op": "close"}):
        hidden = await theirs.ask({**op, "instance_id": instance_id})
        none = await theirs.ask({**op, "instance_id": unknown})
        assert (hidden["status"], hidden["code"]) == (404, "instance_not_found")
        assert re.sub(instance_id, "<id>", json.dumps(hidden)) == re.sub(unknown, "<id>", json.dumps(none))
    assert runtime.get(instance_id).episode_steps == 1
    assert (await mine.ask({"op": "step", "instance_id": instance_id, "action": 1}))["reward"] == 1.0


async def test_a_bound_socket_on_another_keys_instance_is_closed_as_for_an_unknown_one(keys_on, keys, sockets):
    alice, bob = await keys("alice"), await keys("bob")
    owner_id = await sync_to_async(lambda: ApiKey.objects.get(name="alice").id)()
    mine = await sync_to_async(drive.create)("CartPole-v1", owner_id=owner_id)
    answers = []
    for instance_id in (mine, str(uuid.uuid4())):
        socket = await sockets(f"/ws/envs/{instance_id}/step/?key={bob}")
        answers.append((re.sub(instance_id, "<id>", json.dumps(await socket.answer())), await socket.closed_with()))
    assert answers[0] == answers[1] and answers[0][1] == 4404
    owner = await sockets(f"/ws/envs/{mine}/step/?key={alice}")
    assert set(await owner.ask({"op": "reset"})) == {"observation", "info"}


async def test_a_revoked_keys_socket_is_closed_once_its_cache_entry_is_stale(keys_on, keys, sockets, monkeypatch):
    alice = await keys("alice")
    socket = await sockets(f"/ws/step/?key={alice}")
    instance_id = (await socket.ask({"op": "create", "env_id": "CartPole-v1"}))["instance_id"]
    await ApiKey.objects.filter(name="alice").aupdate(revoked_at=timezone.now())  # as another process would
    later = access.time.monotonic() + keys_on.GYMAPI_KEY_CACHE_SECONDS + 0.001
    monkeypatch.setattr(access.time, "monotonic", lambda: later)
    error = await socket.ask({"op": "reset", "instance_id": instance_id})
    assert (error["status"], error["code"]) == (401, "key_revoked")
    assert await socket.closed_with() == 4401
    assert runtime.get(instance_id).episode_number == 0


async def test_creating_beyond_the_keys_cap_is_a_429_and_the_socket_stays_open(keys_on, keys, sockets):
    keys_on.GYMAPI_MAX_INSTANCES_PER_KEY = 1
    alice = await keys("alice")
    socket = await sockets(f"/ws/step/?key={alice}")
    await socket.ask({"op": "create", "env_id": "CartPole-v1"})
    refused = await socket.ask({"op": "create", "env_id": "CartPole-v1"})
    assert (refused["status"], refused["code"]) == (429, "key_instance_cap")
    assert await EnvInstance.objects.acount() == 1
    assert (await socket.ask({"op": "sample", "instance_id": str((await EnvInstance.objects.afirst()).id)}))["action"] in (0, 1)


async def test_keys_off_a_socket_needs_none_and_an_auth_message_changes_nothing(sockets, db):
    socket = await sockets("/ws/step/")
    assert await socket.ask({"op": "auth", "key": "gk_anything"}) == {"authenticated": False}
    created = await socket.ask({"op": "create", "env_id": "CartPole-v1"})
    assert (await EnvInstance.objects.aget(pk=created["instance_id"])).owner_id is None


async def test_a_socket_that_sends_no_key_in_time_is_closed(keys_on, sockets, settings):
    settings.GYMAPI_AUTH_TIMEOUT = 0.2
    socket = await sockets("/ws/step/")
    error = await socket.answer()  # nothing sent at all
    assert (error["status"], error["code"]) == (401, "not_authenticated")
    assert "GYMAPI_AUTH_TIMEOUT" in error["detail"]
    assert await socket.closed_with() == 4401
