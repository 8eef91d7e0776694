"""Idle reaping (README, Limits): an instance untouched for GYMAPI_IDLE_SECONDS is
closed and marked reaped (410 afterwards, saying so), in the server by a thread
and by ``manage.py reap``, which also marks lost the instances recorded active
whose server process has ended."""

import io
import threading
import time
import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.management import call_command

from envs import processes
from envs.services import lifecycle as reaping

from . import drive
from envs.models import EnvInstance, Episode, InstanceStatus
from envs.runtime import runtime

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def idle_after_an_hour(settings):
    settings.GYMAPI_IDLE_SECONDS = 3600


def untouched_for(instance_id, seconds):
    live = runtime.get(instance_id)
    live.last_used = time.monotonic() - seconds


def test_it_reaps_an_instance_untouched_for_GYMAPI_IDLE_SECONDS(api, make_instance, settings):
    settings.GYMAPI_FLUSH_SECONDS = 3600
    instance_id = make_instance(reset=True, reset_seed=1)
    for _ in range(3):
        api.post(f"/v1/envs/{instance_id}/step/", {"action": 0})
    untouched_for(instance_id, 3601)
    assert reaping.reap() == 1
    instance = EnvInstance.objects.get(pk=instance_id)
    assert instance.status == InstanceStatus.REAPED and instance.closed_at is not None
    assert instance.status_reason == "untouched for more than 3600 s, GYMAPI_IDLE_SECONDS"
    assert runtime.get(instance_id) is None
    episode = Episode.objects.get(instance_id=instance_id)
    assert (episode.steps, episode.outcome) == (3, "interrupted")
    for response in (
        api.post(f"/v1/envs/{instance_id}/step/", {"action": 0}),
        api.get(f"/v1/envs/{instance_id}/"),
        api.delete(f"/v1/envs/{instance_id}/"),
    ):
        assert response.status_code == 410
        assert response.json()["code"] == "instance_reaped"
        assert "was reaped for being idle (untouched for more than 3600 s, GYMAPI_IDLE_SECONDS)" in response.json()["detail"]
    assert instance_id not in api.get("/v1/envs/").json()


def test_it_leaves_instances_touched_within_GYMAPI_IDLE_SECONDS(make_instance):
    idle, recent = make_instance(), make_instance()
    untouched_for(idle, 3601)
    untouched_for(recent, 3599)
    assert reaping.reap() == 1
    assert EnvInstance.objects.get(pk=recent).status == InstanceStatus.ACTIVE
    assert EnvInstance.objects.get(pk=idle).status == InstanceStatus.REAPED


@pytest.mark.parametrize("route", ["reset/", "step/", "action_space/sample/", "monitor/render/"])
def test_a_reset_step_sample_or_render_touches_it(api, make_instance, route):
    instance_id = make_instance(reset=True, render_mode="rgb_array")
    untouched_for(instance_id, 3601)
    method = api.get if route.endswith("sample/") or route.endswith("render/") else api.post
    assert method(f"/v1/envs/{instance_id}/{route}", *([{"action": 0}] if route == "step/" else [])).status_code == 200
    assert reaping.reap() == 0


def test_nothing_is_reaped_with_GYMAPI_IDLE_SECONDS_0(make_instance, settings):
    settings.GYMAPI_IDLE_SECONDS = 0
    instance_id = make_instance()
    untouched_for(instance_id, 10**6)
    assert reaping.reap() == 0
    assert EnvInstance.objects.get(pk=instance_id).status == InstanceStatus.ACTIVE


def test_it_leaves_an_instance_in_use(make_instance):
    instance_id = make_instance()
    untouched_for(instance_id, 3601)
    live = runtime.get(instance_id)
    held, release = threading.Event(), threading.Event()

    def hold():
        with live.lock:
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10)
        assert reaping.reap() == 0
    finally:
        release.set()
        holder.join(10)
    assert EnvInstance.objects.get(pk=instance_id).status == InstanceStatus.ACTIVE


def test_it_reaps_an_idle_vector_instance(api, settings):
    settings.GYMAPI_FLUSH_SECONDS = 3600
    instance_id = api.post("/v1/vector_envs/", {"env_id": "CartPole-v1", "num_envs": 2}).json()["instance_id"]
    api.post(f"/v1/vector_envs/{instance_id}/reset/", {})
    api.post(f"/v1/vector_envs/{instance_id}/step/", {"action": [0, 1]})
    untouched_for(instance_id, 3601)
    assert reaping.reap() == 1
    assert EnvInstance.objects.get(pk=instance_id).status == InstanceStatus.REAPED
    assert list(Episode.objects.filter(instance_id=instance_id).values_list("steps", flat=True)) == [1, 1]
    response = api.post(f"/v1/vector_envs/{instance_id}/step/", {"action": [0, 1]})
    assert response.status_code == 410 and response.json()["code"] == "instance_reaped"


def test_it_closes_a_broken_instance_whose_closing_failed(make_instance):
    instance_id = make_instance()
    runtime.get(instance_id).broken = "CartPole-v1 raised RuntimeError in step: boom"
    assert reaping.reap() == 0
    instance = EnvInstance.objects.get(pk=instance_id)
    assert instance.status == InstanceStatus.BROKEN and "boom" in instance.status_reason


@pytest.mark.asyncio
async def test_watchers_are_told_it_was_reaped():
    from gymapi.asgi import application

    watcher = WebsocketCommunicator(application, "/ws/envs/")
    assert (await watcher.connect(timeout=10))[0]
    try:
        assert (await watcher.receive_json_from(10))["type"] == "instances"
        instance_id = await sync_to_async(drive.create)("CartPole-v1")
        assert (await watcher.receive_json_from(10))["type"] == "created"
        untouched_for(instance_id, 3601)
        assert await sync_to_async(reaping.reap)() == 1
        assert await watcher.receive_json_from(10) == {"type": "reaped", "instance_id": instance_id}
    finally:
        await watcher.disconnect()


def test_the_servers_reaper_sweeps_every_GYMAPI_REAP_INTERVAL(make_instance):
    instance_id = make_instance()
    untouched_for(instance_id, 3601)
    reaper = reaping.Sweeper(0.01).start()
    try:
        assert reaper.swept.wait(10)
    finally:
        reaper.stop()
    assert EnvInstance.objects.get(pk=instance_id).status == InstanceStatus.REAPED


# --- manage.py reap ----------------------------------------------------------------


def recorded(process):
    return EnvInstance.objects.create(id=uuid.uuid4(), env_id="CartPole-v1", process=process).pk


def test_the_command_marks_lost_the_instances_of_ended_processes_and_no_others(make_instance):
    live = make_instance()
    orphan = recorded(drive.ended_process())
    running = recorded(processes.identity())  # this process runs: maybe a server, left alone
    elsewhere = recorded("another-host:1:1")
    unknown = recorded("")
    untouched_for(live, 3601)
    out = io.StringIO()
    call_command("reap", stdout=out)
    assert out.getvalue().strip() == "Reaped 1 idle instance(s); marked 1 instance(s) of ended server processes lost."
    statuses = dict(EnvInstance.objects.values_list("pk", "status"))
    assert statuses == {
        uuid.UUID(live): InstanceStatus.REAPED,
        orphan: InstanceStatus.LOST,
        running: InstanceStatus.ACTIVE,
        elsewhere: InstanceStatus.ACTIVE,
        unknown: InstanceStatus.ACTIVE,
    }


def test_the_commands_dry_run_only_counts(make_instance):
    orphan = recorded(drive.ended_process())
    out = io.StringIO()
    call_command("reap", "--dry-run", stdout=out)
    assert out.getvalue().strip() == "1 instance(s) of ended server processes would be marked lost."
    assert EnvInstance.objects.get(pk=orphan).status == InstanceStatus.ACTIVE


def test_instances_record_the_process_that_holds_them(make_instance, api):
    single = make_instance()
    vector = api.post("/v1/vector_envs/", {"env_id": "CartPole-v1", "num_envs": 2}).json()["instance_id"]
    assert set(EnvInstance.objects.filter(pk__in=[single, vector]).values_list("process", flat=True)) == {
        processes.identity()
    }
    assert not processes.is_gone(processes.identity())
