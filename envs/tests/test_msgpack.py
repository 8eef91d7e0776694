"""msgpack by content negotiation on /v1: ``Accept: application/msgpack`` for
answers, ``Content-Type: application/msgpack`` for bodies. Arrays travel as raw
bytes with dtype and shape; JSON stays the default."""

import gymnasium as gym
import msgpack
import numpy as np
import pytest

from envs import binary
from envs.models import Episode

MSGPACK = "application/msgpack"

pytestmark = pytest.mark.django_db


def ask(api, method, path, body=None, content_type=MSGPACK):
    """A request answered in msgpack; returns (status, decoded body)."""
    send = getattr(api, method)
    if body is None:
        response = send(path, HTTP_ACCEPT=MSGPACK)
    else:
        response = send(path, data=msgpack.packb(body), content_type=content_type, HTTP_ACCEPT=MSGPACK)
    assert response["Content-Type"] == MSGPACK, response.content[:200]
    return response.status_code, msgpack.unpackb(response.content)


def array(value):
    """An ``__ndarray__`` map back into numpy."""
    assert value["__ndarray__"] is True
    return np.frombuffer(value["data"], dtype=np.dtype(value["dtype"]).newbyteorder("<")).reshape(value["shape"])


def test_it_answers_reset_and_step_with_raw_arrays_equal_to_an_in_process_run(api, make_instance):
    instance_id = make_instance("CartPole-v1")
    local = gym.make("CartPole-v1")
    status, reset = ask(api, "post", f"/v1/envs/{instance_id}/reset/", {"seed": 5})
    assert status == 200
    observation = array(reset["observation"])
    assert observation.dtype == np.float32 and observation.shape == (4,)
    assert np.array_equal(observation, local.reset(seed=5)[0])
    for action in (0, 1, 1):
        status, step = ask(api, "post", f"/v1/envs/{instance_id}/step/", {"action": action})
        expected, reward, terminated, truncated, _ = local.step(action)
        assert status == 200 and np.array_equal(array(step["observation"]), expected)
        assert (step["reward"], step["terminated"], step["truncated"]) == (reward, terminated, truncated)
        assert step["done"] is False and step["info"] == {}


def test_json_stays_the_default(api, make_instance):
    instance_id = make_instance("CartPole-v1", reset=True)
    response = api.post(f"/v1/envs/{instance_id}/step/", {"action": 0}, format="json")
    assert response["Content-Type"] == "application/json"
    assert isinstance(response.json()["observation"], list)


def test_a_json_body_may_ask_for_a_msgpack_answer(api, make_instance):
    instance_id = make_instance("CartPole-v1", reset=True)
    response = api.post(f"/v1/envs/{instance_id}/step/", {"action": 0}, format="json", HTTP_ACCEPT=MSGPACK)
    assert response["Content-Type"] == MSGPACK
    assert array(msgpack.unpackb(response.content)["observation"]).shape == (4,)


def test_a_pong_frame_is_its_raw_bytes(api, make_instance):
    instance_id = make_instance("ALE/Pong-v5")
    status, reset = ask(api, "post", f"/v1/envs/{instance_id}/reset/", {"seed": 0})
    frame = array(reset["observation"])
    assert status == 200 and frame.dtype == np.uint8 and frame.shape == (210, 160, 3)
    json_body = api.post(f"/v1/envs/{instance_id}/step/", {"action": 0}, format="json").content
    msgpack_body = api.post(
        f"/v1/envs/{instance_id}/step/", data=msgpack.packb({"action": 0}), content_type=MSGPACK, HTTP_ACCEPT=MSGPACK
    ).content
    assert len(msgpack_body) < 110_000 and 4 * len(msgpack_body) < len(json_body)


def test_a_box_action_may_come_as_a_raw_array(api, make_instance):
    instance_id = make_instance("Pendulum-v1", reset=True)
    action = binary.encode_value(np.array([1.5], dtype=np.float32))
    status, step = ask(api, "post", f"/v1/envs/{instance_id}/step/", {"action": action})
    assert status == 200 and isinstance(step["reward"], float)


def test_a_wrong_raw_array_is_a_400_in_msgpack_and_changes_nothing(api, make_instance):
    instance_id = make_instance("Pendulum-v1", reset=True)
    wrong = binary.encode_value(np.array([1.0, 2.0], dtype=np.float32))
    status, error = ask(api, "post", f"/v1/envs/{instance_id}/step/", {"action": wrong})
    assert status == 400 and error["code"] == "invalid_action" and "Box" in error["detail"]
    assert api.get(f"/v1/envs/{instance_id}/").json()["episode"]["steps"] == 0


@pytest.mark.parametrize(
    "raw",
    [
        b"\xc1",  # never used in msgpack
        msgpack.packb({"action": {"__ndarray__": True, "dtype": "float32", "shape": [3], "data": b"\x00"}}),
        msgpack.packb({"action": {"__ndarray__": True, "dtype": "<U3", "shape": [1], "data": b"abc"}}),
        msgpack.packb({1: 2}),
    ],
)
def test_unreadable_msgpack_is_a_400_parse_error(api, make_instance, raw):
    instance_id = make_instance("CartPole-v1", reset=True)
    response = api.post(f"/v1/envs/{instance_id}/step/", data=raw, content_type=MSGPACK, HTTP_ACCEPT=MSGPACK)
    assert response.status_code == 400
    assert msgpack.unpackb(response.content)["code"] == "parse_error"
    assert not Episode.objects.filter(steps__gt=0).exists()


def test_every_route_answers_in_msgpack(api, make_instance):
    instance_id = make_instance("CartPole-v1", reset=True, seed=1)
    assert ask(api, "get", "/v1/envs/")[1] == {instance_id: "CartPole-v1"}
    detail = ask(api, "get", f"/v1/envs/{instance_id}/")[1]
    assert detail["env_id"] == "CartPole-v1" and isinstance(detail["created"], str)
    assert ask(api, "get", f"/v1/envs/{instance_id}/action_space/")[1]["name"] == "Discrete"
    assert ask(api, "get", f"/v1/envs/{instance_id}/action_space/sample/")[1]["action"] in (0, 1)
    assert ask(api, "post", f"/v1/envs/{instance_id}/action_space/contains/", {"x": 1})[1] == {"member": True}
    assert ask(api, "get", f"/v1/envs/{instance_id}/episodes/")[1]["count"] == 1
    assert ask(api, "get", "/v1/registry/?q=cartpole")[1]
    status, error = ask(api, "get", "/v1/envs/00000000-0000-0000-0000-000000000000/")
    assert status == 404 and error["code"] == "instance_not_found"

