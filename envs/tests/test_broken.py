"""Broken environments (README, Limits): one that raises in step, in a reset
without client options, or in a client's render gets a clear env_error and is
marked broken and closed; one that hangs past GYMAPI_CALL_TIMEOUT is abandoned
(504 env_timeout) and marked broken while every other instance is served.
Later calls are 410 instance_broken, saying why."""

import asyncio
import json
import threading

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections
from rest_framework.test import APIClient

from envs.errors import EnvBroken
from envs.models import EnvInstance, Episode, InstanceStatus
from envs.runtime import runtime
from envs.services.instances import end_broken

from . import drive
from .faulty_envs import HangingEnv, SlowToBuildEnv, reset_events
from .test_fastpath import JSON, call
from .test_ws_step import Socket

pytestmark = pytest.mark.django_db(transaction=True)

FRAGILE = "gymapi-test/Fragile-v0"


@pytest.fixture
def hanging():
    release = reset_events(HangingEnv, SlowToBuildEnv)
    yield
    release()  # the abandoned calls finish and their threads are free again


def in_a_thread(function):
    """``function`` for a thread of its own, which closes the thread's database connections."""

    def run():
        try:
            function()
        finally:
            connections.close_all()

    return run


def step(api, instance_id, action):
    return api.post(f"/v1/envs/{instance_id}/step/", {"action": action}, format="json")


def assert_broken(api, instance_id, because):
    """The instance is recorded broken with ``because`` in its reason, gone from
    the runtime, and its routes answer 410 instance_broken saying why."""
    instance = EnvInstance.objects.get(pk=instance_id)
    assert instance.status == InstanceStatus.BROKEN and because in instance.status_reason
    assert instance.closed_at is not None
    assert runtime.get(instance_id) is None
    route = "vector_envs" if instance.num_envs else "envs"
    for response in (api.get(f"/v1/{route}/{instance_id}/"), api.post(f"/v1/{route}/{instance_id}/reset/", {})):
        assert response.status_code == 410
        assert response.json()["code"] == "instance_broken"
        assert "broke" in response.json()["detail"] and because in response.json()["detail"]


# --- exceptions ------------------------------------------------------------------


def test_it_answers_an_exception_in_step_with_an_env_error_and_breaks_the_instance(api, make_instance):
    instance_id = make_instance(FRAGILE, reset=True)
    for _ in range(3):
        assert step(api, instance_id, 0).status_code == 200
    response = step(api, instance_id, 1)
    assert response.status_code == 400
    assert response.json()["code"] == "env_error"
    assert "RuntimeError in step: physics exploded" in response.json()["detail"]
    assert "broken" in response.json()["detail"]
    assert_broken(api, instance_id, "RuntimeError in step: physics exploded")
    assert step(api, instance_id, 0).status_code == 410
    episode = Episode.objects.get(instance_id=instance_id)
    assert (episode.steps, episode.outcome) == (3, "interrupted")  # its episode, written as a close writes it


def test_it_breaks_an_instance_whose_reset_raises_without_options(api, make_instance):
    instance_id = make_instance(FRAGILE, kwargs={"fail_reset": True})
    response = api.post(f"/v1/envs/{instance_id}/reset/", {"seed": 1})
    assert response.status_code == 400 and response.json()["code"] == "env_error"
    assert_broken(api, instance_id, "the simulator would not start")


@pytest.mark.parametrize("kwargs", [{}, {"fail_reset": True}])
def test_it_does_not_break_an_instance_whose_reset_refuses_the_clients_options(api, make_instance, kwargs):
    # Options are the client's: the environment refusing them is a 400, and the instance goes on.
    instance_id = make_instance(FRAGILE, kwargs=kwargs)
    response = api.post(f"/v1/envs/{instance_id}/reset/", {"options": {"bogus": 1}})
    assert response.status_code == 400 and response.json()["code"] == "env_error"
    assert "unknown options ['bogus']" in response.json()["detail"]
    assert EnvInstance.objects.get(pk=instance_id).status == InstanceStatus.ACTIVE
    assert runtime.get(instance_id).broken is None
    assert api.get(f"/v1/envs/{instance_id}/").status_code == 200


def test_it_breaks_an_instance_whose_render_raises(api, make_instance):
    instance_id = make_instance(FRAGILE, reset=True, render_mode="rgb_array")
    response = api.get(f"/v1/envs/{instance_id}/monitor/render/")
    assert response.status_code == 400 and response.json()["code"] == "env_error"
    assert "RuntimeError in render: no display" in response.json()["detail"]
    assert_broken(api, instance_id, "no display")


def test_it_breaks_a_vector_instance_whose_sub_environment_raises(api):
    created = api.post("/v1/vector_envs/", {"env_id": FRAGILE, "num_envs": 2})
    instance_id = created.json()["instance_id"]
    assert api.post(f"/v1/vector_envs/{instance_id}/reset/", {}).status_code == 200
    assert api.post(f"/v1/vector_envs/{instance_id}/step/", {"action": [0, 0]}).status_code == 200
    response = api.post(f"/v1/vector_envs/{instance_id}/step/", {"action": [0, 1]})
    assert response.status_code == 400 and response.json()["code"] == "env_error"
    assert_broken(api, instance_id, "physics exploded")
    episodes = Episode.objects.filter(instance_id=instance_id).order_by("sub_env")
    assert [(e.sub_env, e.steps, e.outcome) for e in episodes] == [(0, 1, "interrupted"), (1, 1, "interrupted")]


def test_it_keeps_serving_the_other_instances(api, make_instance):
    broken, healthy = make_instance(FRAGILE, reset=True), make_instance("CartPole-v1", reset=True)
    assert step(api, broken, 1).status_code == 400
    assert step(api, healthy, 0).status_code == 200
    assert EnvInstance.objects.get(pk=healthy).status == InstanceStatus.ACTIVE


def test_a_break_on_the_event_loop_hands_back_the_instance_to_end_and_touches_no_database(api, make_instance, cheap_calls):
    instance_id = make_instance(FRAGILE, reset=True)
    assert drive.step_on_loop(instance_id, 0) is None  # its first step goes to a thread
    drive.step(instance_id, 0)

    async def break_it_on_a_loop():  # any query here would raise SynchronousOnlyOperation
        assert drive.step_on_loop(instance_id, 0).body["reward"] == 1.0  # answered on the loop
        return drive.step_on_loop(instance_id, 1)

    outcome = asyncio.run(break_it_on_a_loop())
    assert isinstance(outcome.error, EnvBroken) and outcome.broken is runtime.get(instance_id)
    assert EnvInstance.objects.get(pk=instance_id).status == InstanceStatus.ACTIVE
    assert api.get(f"/v1/envs/{instance_id}/").json()["code"] == "instance_broken"  # 410 from memory meanwhile
    end_broken(outcome.broken)
    assert_broken(api, instance_id, "physics exploded")


@pytest.mark.asyncio
@pytest.mark.parametrize("on_the_loop", [True, False])
async def test_the_fast_path_breaks_it_before_answering(settings, on_the_loop):
    from gymapi.asgi import http_app

    settings.GYMAPI_INLINE = on_the_loop
    instance_id = await sync_to_async(drive.create)(FRAGILE)
    path = f"/v1/envs/{instance_id}"
    assert (await call(http_app, "POST", f"{path}/reset/", b"{}", JSON))[0] == 200
    assert (await call(http_app, "POST", f"{path}/step/", b'{"action": 0}', JSON))[0] == 200
    status, _, content = await call(http_app, "POST", f"{path}/step/", b'{"action": 1}', JSON)
    assert status == 400 and json.loads(content)["code"] == "env_error"
    instance = await EnvInstance.objects.aget(pk=instance_id)
    assert instance.status == InstanceStatus.BROKEN and runtime.get(instance_id) is None
    status, _, content = await call(http_app, "POST", f"{path}/step/", b'{"action": 0}', JSON)
    assert status == 410 and json.loads(content)["code"] == "instance_broken"


@pytest.mark.asyncio
async def test_the_step_socket_answers_the_break_and_then_410_keeping_the_socket_open():
    instance_id = await sync_to_async(drive.create)(FRAGILE)
    async with Socket(f"/ws/envs/{instance_id}/step/") as socket:
        await socket.ask({"op": "reset"})
        await socket.ask({"op": "step", "action": 0})
        broke = await socket.ask({"op": "step", "action": 1, "id": 3})
        assert (broke["code"], broke["status"], broke["id"]) == ("env_error", 400, 3)
        assert "physics exploded" in broke["detail"]
        after = await socket.ask({"op": "step", "action": 0})
        assert (after["code"], after["status"]) == ("instance_broken", 410)
    assert (await EnvInstance.objects.aget(pk=instance_id)).status == InstanceStatus.BROKEN


@pytest.mark.asyncio
async def test_watchers_are_told_it_broke():
    from gymapi.asgi import application

    watcher = WebsocketCommunicator(application, "/ws/envs/")
    assert (await watcher.connect(timeout=10))[0]
    try:
        assert (await watcher.receive_json_from(10))["type"] == "instances"
        instance_id = await sync_to_async(drive.create)(FRAGILE)
        await sync_to_async(drive.reset)(instance_id)
        with pytest.raises(EnvBroken):
            await sync_to_async(drive.step)(instance_id, 1)
        events = [await watcher.receive_json_from(10) for _ in range(2)]
        assert events == [
            {**events[0], "type": "created", "instance_id": instance_id},
            {"type": "broken", "instance_id": instance_id},
        ]
    finally:
        await watcher.disconnect()


# --- hangs -----------------------------------------------------------------------


def test_it_abandons_a_call_past_GYMAPI_CALL_TIMEOUT_and_breaks_the_instance(api, make_instance, settings, hanging):
    instance_id = make_instance("gymapi-test/Hanging-v0", reset=True)
    healthy = make_instance("CartPole-v1", reset=True)
    settings.GYMAPI_CALL_TIMEOUT = 0.05
    response = step(api, instance_id, 1)
    assert HangingEnv.entered.is_set() and not HangingEnv.release.is_set()  # still hung, in its own thread
    assert response.status_code == 504
    assert response.json()["code"] == "env_timeout"
    assert "did not return from step within 0.05 s (GYMAPI_CALL_TIMEOUT)" in response.json()["detail"]
    assert_broken(api, instance_id, "GYMAPI_CALL_TIMEOUT")
    assert step(api, healthy, 0).status_code == 200  # the server goes on


def test_other_instances_are_served_while_one_hangs(api, make_instance, settings, hanging):
    hung, healthy = make_instance("gymapi-test/Hanging-v0", reset=True), make_instance("CartPole-v1", reset=True)
    settings.GYMAPI_CALL_TIMEOUT = 60
    answers = []
    caller = threading.Thread(target=in_a_thread(lambda: answers.append(step(APIClient(), hung, 1))))
    caller.start()
    try:
        assert HangingEnv.entered.wait(10)
        for _ in range(3):
            assert step(api, healthy, 0).status_code == 200
        assert api.get(f"/v1/envs/{healthy}/").status_code == 200
    finally:
        HangingEnv.release.set()
        caller.join(10)
    assert answers[0].status_code == 200  # released before its timeout: answered, not broken
    assert EnvInstance.objects.get(pk=hung).status == InstanceStatus.ACTIVE


@pytest.mark.asyncio
@pytest.mark.parametrize("inline_calls", [True, False])
async def test_the_fast_path_abandons_a_step_that_hangs_before_it_was_measured(settings, hanging, inline_calls):
    # A call made on the event loop cannot be abandoned: an operation runs there only once it
    # was measured cheap in a thread (a huge ALE frameskip would hang its very first step), and
    # GYMAPI_INLINE=0 makes every call a thread's.
    from gymapi.asgi import http_app

    settings.GYMAPI_INLINE = inline_calls
    settings.GYMAPI_CALL_TIMEOUT = 0.05
    instance_id = await sync_to_async(drive.create)("gymapi-test/Hanging-v0")
    path = f"/v1/envs/{instance_id}"
    assert (await call(http_app, "POST", f"{path}/reset/", b"{}", JSON))[0] == 200
    status, _, content = await call(http_app, "POST", f"{path}/step/", b'{"action": 1}', JSON)
    assert status == 504 and json.loads(content)["code"] == "env_timeout"
    assert (await EnvInstance.objects.aget(pk=instance_id)).status == InstanceStatus.BROKEN


@pytest.mark.asyncio
async def test_the_step_socket_abandons_a_hung_call_and_stays_open(settings, hanging):
    settings.GYMAPI_INLINE = False
    settings.GYMAPI_CALL_TIMEOUT = 0.05
    instance_id = await sync_to_async(drive.create)("gymapi-test/Hanging-v0")
    async with Socket("/ws/step/") as socket:
        await socket.ask({"op": "reset", "instance_id": instance_id})
        hung = await socket.ask({"op": "step", "action": 1, "instance_id": instance_id})
        assert (hung["code"], hung["status"]) == ("env_timeout", 504)
        created = await socket.ask({"op": "create", "env_id": "CartPole-v1"})
        assert "instance_id" in created  # the socket goes on
        after = await socket.ask({"op": "step", "action": 0, "instance_id": instance_id})
        assert (after["code"], after["status"]) == ("instance_broken", 410)


def test_it_abandons_a_creation_past_GYMAPI_CALL_TIMEOUT_and_creates_nothing(api, settings, hanging):
    settings.GYMAPI_CALL_TIMEOUT = 0.05
    response = api.post("/v1/envs/", {"env_id": "gymapi-test/SlowToBuild-v0"})
    assert SlowToBuildEnv.entered.is_set()
    assert response.status_code == 504 and response.json()["code"] == "env_timeout"
    assert "was not created within 0.05 s" in response.json()["detail"]
    assert not EnvInstance.objects.exists() and runtime.environment_count() == 0
