"""ws/envs/{id}/step/ and ws/step/: the WebSocket step protocol.

Messages are ``{"op": ...}`` objects; answers are the REST routes' bodies, in
order, with the client's ``id`` repeated; errors keep the socket open.
"""

import json

import gymnasium as gym
import msgpack
import numpy as np
import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from envs import binary
from envs.models import EnvInstance, Episode, InstanceStatus
from envs.runtime import SINGLE
from envs.services.instances import instance_close

from . import drive

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


class Socket:
    """A client of the real ASGI application speaking JSON (or msgpack) messages."""

    def __init__(self, path):
        from gymapi.asgi import application

        self.communicator = WebsocketCommunicator(application, path)

    async def __aenter__(self):
        connected, _ = await self.communicator.connect(timeout=10)
        assert connected
        return self

    async def __aexit__(self, *exc):
        await self.communicator.disconnect()

    async def ask(self, message):
        await self.communicator.send_to(text_data=json.dumps(message))
        return await self.answer()

    async def ask_binary(self, message):
        await self.communicator.send_to(bytes_data=msgpack.packb(message))
        reply = await self.communicator.receive_output(10)
        assert reply["type"] == "websocket.send" and reply.get("bytes") is not None, reply
        return binary.loads(reply["bytes"]), len(reply["bytes"])

    async def answer(self):
        reply = await self.communicator.receive_output(10)
        assert reply["type"] == "websocket.send", reply
        return json.loads(reply["text"])


async def create(env_id="CartPole-v1", **fields):
    return await sync_to_async(drive.create)(env_id, **fields)


async def test_it_answers_reset_and_step_with_the_rest_bodies_and_in_process_values():
    instance_id = await create(seed=3)
    expected = gym.make("CartPole-v1")
    expected_observation, _ = expected.reset(seed=3)
    async with Socket(f"/ws/envs/{instance_id}/step/") as socket:
        reset = await socket.ask({"op": "reset"})
        assert set(reset) == {"observation", "info"}
        assert np.array_equal(np.asarray(reset["observation"], dtype=np.float32), expected_observation)
        for _ in range(5):
            step = await socket.ask({"op": "step", "action": 1})
            observation, reward, terminated, truncated, _ = expected.step(1)
            assert set(step) == {"observation", "reward", "terminated", "truncated", "info", "done"}
            assert np.array_equal(np.asarray(step["observation"], dtype=np.float32), observation)
            assert (step["reward"], step["terminated"], step["truncated"]) == (reward, terminated, truncated)


async def test_it_repeats_the_clients_id_on_each_answer():
    instance_id = await create()
    async with Socket(f"/ws/envs/{instance_id}/step") as socket:
        assert (await socket.ask({"op": "reset", "id": "r1"}))["id"] == "r1"
        assert (await socket.ask({"op": "step", "action": 0, "id": 7}))["id"] == 7
        assert "id" not in await socket.ask({"op": "step", "action": 0})


async def test_it_records_episodes_as_the_rest_routes_do():
    instance_id = await create(seed=1)
    async with Socket(f"/ws/envs/{instance_id}/step/") as socket:
        await socket.ask({"op": "reset"})
        steps = 0
        while True:
            steps += 1
            if (await socket.ask({"op": "step", "action": 0}))["done"]:
                break
    episode = await Episode.objects.aget(instance_id=instance_id, number=1)
    assert episode.steps == steps and episode.total_reward == steps and episode.terminated


async def test_it_samples_from_the_action_space():
    instance_id = await create(seed=5)
    async with Socket(f"/ws/envs/{instance_id}/step/") as socket:
        assert (await socket.ask({"op": "sample"}))["action"] in (0, 1)


async def test_it_answers_an_error_in_the_api_shape_and_keeps_the_socket_open():
    instance_id = await create()
    async with Socket(f"/ws/envs/{instance_id}/step/") as socket:
        before_reset = await socket.ask({"op": "step", "action": 0, "id": 1})
        assert before_reset["status"] == 400 and before_reset["code"] == "reset_needed" and before_reset["id"] == 1
        await socket.ask({"op": "reset"})
        wrong = await socket.ask({"op": "step", "action": 5})
        assert wrong["status"] == 400 and wrong["code"] == "invalid_action"
        assert "Discrete(2)" in wrong["detail"] and "action" in wrong["fields"]
        missing = await socket.ask({"op": "step"})
        assert missing["code"] == "invalid" and "action" in missing["fields"]
        bad_seed = await socket.ask({"op": "reset", "seed": "x"})
        assert bad_seed["status"] == 400 and "seed" in bad_seed["fields"]
        assert (await socket.ask({"op": "step", "action": 1}))["done"] is False  # still usable


@pytest.mark.parametrize(
    "raw, field",
    [
        ("not json", "message"),
        ("[1, 2]", "message"),
        ('{"action": 1}', "op"),
        ('{"op": "jump"}', "op"),
        ('{"op": 3}', "op"),
    ],
)
async def test_it_names_the_field_of_a_malformed_message(raw, field):
    instance_id = await create()
    async with Socket(f"/ws/envs/{instance_id}/step/") as socket:
        await socket.communicator.send_to(text_data=raw)
        error = await socket.answer()
        assert error["status"] == 400 and field in error["fields"], error


async def test_it_refuses_an_oversized_message_without_reading_it():
    instance_id = await create()
    async with Socket(f"/ws/envs/{instance_id}/step/") as socket:
        error = await socket.ask({"op": "step", "action": [0] * 3_000_000})
        assert error["status"] == 400 and "message" in error["fields"]


async def test_a_socket_for_an_unknown_or_closed_instance_says_why_and_closes():
    async with Socket("/ws/envs/5f0c6d9e-0000-4000-8000-000000000000/step/") as socket:
        error = await socket.answer()
        assert error["status"] == 404 and error["code"] == "instance_not_found"
        assert (await socket.communicator.receive_output(10)) == {"type": "websocket.close", "code": 4404}
    instance_id = await create()
    await sync_to_async(instance_close)(instance_id=instance_id, kind=SINGLE)
    async with Socket(f"/ws/envs/{instance_id}/step/") as socket:
        assert (await socket.answer())["status"] == 410


async def test_one_socket_creates_drives_and_closes_several_instances():
    async with Socket("/ws/step/") as socket:
        first = (await socket.ask({"op": "create", "env_id": "CartPole-v1", "seed": 1}))["instance_id"]
        second = (await socket.ask({"op": "create", "env_id": "FrozenLake-v1"}))["instance_id"]
        assert (await socket.ask({"op": "reset", "instance_id": first}))["observation"]
        assert (await socket.ask({"op": "reset", "instance_id": second}))["observation"] == 0
        assert "reward" in await socket.ask({"op": "step", "instance_id": first, "action": 1})
        assert "reward" in await socket.ask({"op": "step", "instance_id": second, "action": 2})
        assert await socket.ask({"op": "close", "instance_id": second}) == {"instance_id": second, "status": "closed"}
        gone = await socket.ask({"op": "step", "instance_id": second, "action": 2})
        assert gone["status"] == 410
        missing = await socket.ask({"op": "step", "action": 1})
        assert "instance_id" in missing["fields"]
        unknown = await socket.ask({"op": "create", "env_id": "CartPol-v1"})
        assert unknown["status"] == 400 and "CartPole-v1" in unknown["detail"]
    statuses = {str(i.id): i.status async for i in EnvInstance.objects.all()}
    assert statuses == {first: InstanceStatus.ACTIVE, second: InstanceStatus.CLOSED}


async def test_a_bound_socket_cannot_create():
    instance_id = await create()
    async with Socket(f"/ws/envs/{instance_id}/step/") as socket:
        error = await socket.ask({"op": "create", "env_id": "CartPole-v1"})
        assert error["status"] == 400 and "op" in error["fields"]
    assert await EnvInstance.objects.acount() == 1


async def test_binary_messages_are_answered_in_msgpack_with_raw_arrays():
    instance_id = await create(seed=2)
    expected = gym.make("CartPole-v1")
    expected.reset(seed=2)
    async with Socket(f"/ws/envs/{instance_id}/step/") as socket:
        raw_reset = await socket.communicator.send_to(bytes_data=msgpack.packb({"op": "reset"}))
        assert raw_reset is None
        reply = await socket.communicator.receive_output(10)
        observation = msgpack.unpackb(reply["bytes"])["observation"]
        assert observation["__ndarray__"] is True and observation["dtype"] == "float32"
        assert observation["shape"] == [4] and len(observation["data"]) == 16
        step, _ = await socket.ask_binary({"op": "step", "action": 1})
        assert np.array_equal(np.asarray(step["observation"], dtype=np.float32), expected.step(1)[0])
        assert step["reward"] == 1.0 and step["done"] is False
        error, _ = await socket.ask_binary({"op": "step", "action": 9})
        assert error["status"] == 400 and error["code"] == "invalid_action"
        await socket.communicator.send_to(bytes_data=b"\xc1")
        reply = await socket.communicator.receive_output(10)
        assert binary.loads(reply["bytes"])["code"] == "parse_error"


async def test_an_action_may_come_as_a_raw_array_in_msgpack():
    instance_id = await create(env_id="Pendulum-v1", seed=0)
    async with Socket(f"/ws/envs/{instance_id}/step/") as socket:
        await socket.ask_binary({"op": "reset"})
        action = binary.encode_value(np.array([0.5], dtype=np.float32))
        step, _ = await socket.ask_binary({"op": "step", "action": action})
        assert "reward" in step
        wrong = binary.encode_value(np.array([0.5, 1.0], dtype=np.float32))
        error, _ = await socket.ask_binary({"op": "step", "action": wrong})
        assert error["status"] == 400 and "shape" in error["detail"]


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["/ws/nowhere/", "/ws/envs/a/b/c/", "/ws/"])
async def test_it_refuses_a_socket_on_no_route_with_a_404_not_a_crash(path):
    from gymapi.asgi import application

    # The test communicator offers no HTTP response of its own: a plain refusal.
    communicator = WebsocketCommunicator(application, path)
    connected, code = await communicator.connect()
    assert (connected, code) == (False, 4404)

    # A server that can send one (uvicorn) gets a 404 in the API's error shape.
    sent = []
    messages = iter([{"type": "websocket.connect"}])
    scope = {"type": "websocket", "path": path, "extensions": {"websocket.http.response": {}}, "headers": []}

    async def receive():
        return next(messages)

    async def send(message):
        sent.append(message)

    await application(scope, receive, send)
    assert sent[0]["type"] == "websocket.http.response.start" and sent[0]["status"] == 404
    assert json.loads(sent[1]["body"]) == {"detail": f"No WebSocket route at {path}.", "code": "not_found"}
