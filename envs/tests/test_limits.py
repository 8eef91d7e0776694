"""The server's caps (README, Limits): GYMAPI_MAX_INSTANCES (429), the process's
memory (GYMAPI_MAX_RSS_MB, 503), the request body (413), the kwargs' size and
max_episode_steps (400 naming the field). A request over a limit changes
nothing: no record, no live environment."""

import json
import os
import subprocess
import sys
import threading

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from envs import limits
from envs.http.fastpath import FastPath
from envs.legacy.tests.conftest import LegacyClient
from envs.models import EnvInstance
from envs.runtime import runtime

from . import drive
from .faulty_envs import SlowToBuildEnv, reset_events
from .test_broken import in_a_thread
from .test_fastpath import JSON, call
from .test_ws_step import Socket

pytestmark = pytest.mark.django_db(transaction=True)


def create(api, **body):
    return api.post("/v1/envs/", {"env_id": "CartPole-v1", **body}, format="json")


def create_vector(api, num_envs, **body):
    return api.post("/v1/vector_envs/", {"env_id": "CartPole-v1", "num_envs": num_envs, **body}, format="json")


def assert_server_full(response, cap):
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "too_many_instances"
    assert f"at most {cap} (GYMAPI_MAX_INSTANCES" in body["detail"]


# --- GYMAPI_MAX_INSTANCES ----------------------------------------------------------


def test_it_refuses_an_instance_past_the_cap_with_a_429_and_creates_nothing(api, settings):
    settings.GYMAPI_MAX_INSTANCES = 2
    assert create(api).status_code == 201 and create(api).status_code == 201
    assert_server_full(create(api), 2)
    assert EnvInstance.objects.count() == 2 and runtime.environment_count() == 2


def test_a_closed_instance_frees_its_place(api, settings):
    settings.GYMAPI_MAX_INSTANCES = 1
    instance_id = create(api).json()["instance_id"]
    assert create(api).status_code == 429
    assert api.delete(f"/v1/envs/{instance_id}/").status_code == 200
    assert create(api).status_code == 201


def test_a_vector_instance_counts_as_its_num_envs(api, settings):
    settings.GYMAPI_MAX_INSTANCES = 4
    assert create_vector(api, 3).status_code == 201
    response = create_vector(api, 2)
    assert_server_full(response, 4)
    assert "a vector instance of 2 environments" in response.json()["detail"]
    assert create(api).status_code == 201  # 3 + 1
    assert_server_full(create(api), 4)
    assert EnvInstance.objects.count() == 2


def test_no_cap_with_GYMAPI_MAX_INSTANCES_0(api, settings):
    settings.GYMAPI_MAX_INSTANCES = 0
    assert all(create(api).status_code == 201 for _ in range(3))


def test_two_creations_at_the_last_place_cannot_both_pass(api, settings):
    # The first is still being built (gym.make waits in its constructor) when the
    # second asks: counting only the environments already held would let both in.
    settings.GYMAPI_MAX_INSTANCES = 2
    assert create(api).status_code == 201
    release = reset_events(SlowToBuildEnv)
    answers = []
    first = threading.Thread(
        target=in_a_thread(lambda: answers.append(create(APIClient(), env_id="gymapi-test/SlowToBuild-v0")))
    )
    first.start()
    try:
        assert SlowToBuildEnv.entered.wait(10)
        assert_server_full(create(api), 2)
    finally:
        release()
        first.join(10)
    assert answers[0].status_code == 201
    assert runtime.environment_count() == 2 and EnvInstance.objects.count() == 2
    assert_server_full(create(api), 2)


@pytest.mark.asyncio
async def test_a_creation_over_the_step_socket_gets_the_429_and_the_socket_stays_open(settings):
    settings.GYMAPI_MAX_INSTANCES = 1
    async with Socket("/ws/step/") as socket:
        assert "instance_id" in await socket.ask({"op": "create", "env_id": "CartPole-v1"})
        refused = await socket.ask({"op": "create", "env_id": "CartPole-v1", "id": "c2"})
        assert (refused["code"], refused["status"], refused["id"]) == ("too_many_instances", 429, "c2")
        assert "GYMAPI_MAX_INSTANCES" in refused["detail"]
        assert (await socket.ask({"op": "create", "env_id": "nope"}))["status"] == 400  # still answering
    assert await EnvInstance.objects.acount() == 1


# --- GYMAPI_MAX_RSS_MB --------------------------------------------------------------


def assert_memory_full(status, body, cap):
    assert status == 503, body
    assert body["code"] == "server_memory_full"
    assert f"over GYMAPI_MAX_RSS_MB={cap}" in body["detail"]
    held = int(body["detail"].split(" MB")[0].rpartition(" ")[2].replace(",", ""))
    assert abs(held - limits.rss_mb()) < 50  # the process's RSS now, in MB


@pytest.mark.parametrize("route", ["envs", "vector_envs"])
def test_it_refuses_a_creation_with_a_503_when_the_process_holds_more_than_GYMAPI_MAX_RSS_MB(api, settings, route):
    settings.GYMAPI_MAX_RSS_MB = 1  # below any Python process
    body = {"env_id": "CartPole-v1", "num_envs": 2} if route == "vector_envs" else {"env_id": "CartPole-v1"}
    response = api.post(f"/v1/{route}/", body)
    assert_memory_full(response.status_code, response.json(), 1)
    assert not EnvInstance.objects.exists()
    assert runtime.environment_count() == 0
    settings.GYMAPI_MAX_RSS_MB = 0  # off
    assert api.post(f"/v1/{route}/", body).status_code == 201


def test_it_creates_below_GYMAPI_MAX_RSS_MB(api, settings):
    settings.GYMAPI_MAX_RSS_MB = int(limits.rss_mb()) + 1000
    assert create(api).status_code == 201


def test_an_instance_created_before_the_memory_filled_is_still_served(api, settings):
    instance_id = create(api).json()["instance_id"]
    settings.GYMAPI_MAX_RSS_MB = 1
    assert api.post(f"/v1/envs/{instance_id}/reset/", {}).status_code == 200
    assert api.post(f"/v1/envs/{instance_id}/step/", {"action": 0}).status_code == 200
    assert api.delete(f"/v1/envs/{instance_id}/").status_code == 200


@pytest.mark.asyncio
async def test_a_creation_over_the_step_socket_gets_the_503_and_the_socket_stays_open(settings):
    settings.GYMAPI_MAX_RSS_MB = 1
    async with Socket("/ws/step/") as socket:
        refused = await socket.ask({"op": "create", "env_id": "CartPole-v1", "id": "c1"})
        assert (refused.pop("status"), refused.pop("id")) == (503, "c1")
        assert_memory_full(503, refused, 1)
        assert (await socket.ask({"op": "create", "env_id": "nope"}))["status"] == 400  # still answering
    assert await EnvInstance.objects.acount() == 0


def test_a_legacy_creation_gets_the_503_as_a_message(settings, tmp_path):
    settings.ROOT_URLCONF = "envs.legacy.tests.urls"
    settings.GYMAPI_LEGACY_API = True
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.GYMAPI_MAX_RSS_MB = 1
    response = LegacyClient().post("/v1/envs/", {"env_id": "CartPole-v1"})
    assert response.status_code == 503
    assert "over GYMAPI_MAX_RSS_MB=1" in response.json()["message"]
    assert not EnvInstance.objects.exists()


def test_it_reads_the_resident_memory_of_the_process_now():
    import resource

    before = limits.rss_mb()
    ballast = bytearray(200 * 2**20)  # touched: resident
    ballast[:: 4096] = b"x" * len(ballast[:: 4096])
    assert limits.rss_mb() - before > 150
    del ballast
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert 0 < limits.rss_mb() <= peak + 1


def test_without_proc_it_falls_back_to_the_peak(monkeypatch, tmp_path):
    import resource

    monkeypatch.setattr(limits, "STATM", tmp_path / "missing")
    assert limits.rss_mb() == resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_GYMAPI_MAX_RSS_MB_defaults_to_three_quarters_of_the_memory_the_process_may_use():
    from gymapi.settings import memory_limit_mb

    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    assert 0 < memory_limit_mb() <= physical
    assert django_settings.GYMAPI_MAX_RSS_MB == memory_limit_mb() * 3 // 4


@pytest.mark.parametrize(
    "cgroup, expected",
    [
        (None, 16_384),  # no cgroup file: the machine's memory
        ("max", 16_384),  # cgroup v2 without a limit
        ("9223372036854771712", 16_384),  # cgroup v1 without a limit
        (str(2 * 2**30), 2048),  # a container limited to 2 GB
    ],
)
def test_the_memory_the_process_may_use_is_its_cgroups_limit_or_the_machines(monkeypatch, tmp_path, cgroup, expected):
    from gymapi import settings as project_settings

    path = tmp_path / "memory.max"
    if cgroup is not None:
        path.write_text(cgroup + "\n")
    monkeypatch.setattr(project_settings, "CGROUP_MEMORY_FILES", (str(path),))
    monkeypatch.setattr(project_settings.os, "sysconf", {"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": 4 * 2**20}.__getitem__)
    assert project_settings.memory_limit_mb() == expected


# --- the request body --------------------------------------------------------------


def test_a_body_over_GYMAPI_MAX_BODY_BYTES_is_a_413_naming_the_limit(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 200
    response = api.post("/v1/envs/", json.dumps({"env_id": "CartPole-v1", "padding": "x" * 300}), content_type="application/json")
    assert response.status_code == 413
    assert response.json() == {
        "detail": "The request body is larger than the server accepts: at most 200 bytes (GYMAPI_MAX_BODY_BYTES).",
        "code": "payload_too_large",
    }
    assert not EnvInstance.objects.exists()


@pytest.mark.asyncio
async def test_the_fast_path_hands_an_oversized_step_to_django_for_its_413(settings):
    from gymapi.asgi import http_app

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 200
    app = FastPath(http_app.app)  # reads the limit when built, as the server's does at start-up
    instance_id = await sync_to_async(drive.create)("CartPole-v1")
    assert (await call(app, "POST", f"/v1/envs/{instance_id}/reset/", b"{}", JSON))[0] == 200
    body = json.dumps({"action": 0, "padding": "x" * 300}).encode()
    status, _, content = await call(app, "POST", f"/v1/envs/{instance_id}/step/", body, JSON)
    assert status == 413 and json.loads(content)["code"] == "payload_too_large"
    assert runtime.get(instance_id).episode_steps == 0


def test_the_limits_are_read_from_the_environment():
    variables = {
        "GYMAPI_MAX_INSTANCES": "7", "GYMAPI_MAX_BODY_BYTES": "1234", "GYMAPI_MAX_KWARGS_BYTES": "99",
        "GYMAPI_MAX_EPISODE_STEPS": "321", "GYMAPI_IDLE_SECONDS": "12.5", "GYMAPI_REAP_INTERVAL": "3",
        "GYMAPI_CALL_TIMEOUT": "4.5", "GYMAPI_MAX_RSS_MB": "2048",
    }
    names = [*variables, "DATA_UPLOAD_MAX_MEMORY_SIZE"]
    names.remove("GYMAPI_MAX_BODY_BYTES")
    script = f"from gymapi import settings; print([getattr(settings, name) for name in {names!r}])"
    output = subprocess.run(
        [sys.executable, "-c", script], env={**os.environ, **variables}, capture_output=True, text=True, check=True,
        cwd=django_settings.BASE_DIR,
    ).stdout
    assert output.split("\n")[-2] == str([7, 99, 321, 12.5, 3.0, 4.5, 2048, 1234])


# --- kwargs ------------------------------------------------------------------------


def test_kwargs_longer_than_GYMAPI_MAX_KWARGS_BYTES_are_a_400_naming_kwargs(api, settings):
    settings.GYMAPI_MAX_KWARGS_BYTES = 100
    assert create(api, kwargs={"sutton_barto_reward": True}).status_code == 201  # 28 bytes
    desc = ["SFFF", "FHFH", "FFFH", "HFFG"] * 8
    for response in (
        create(api, env_id="FrozenLake-v1", kwargs={"desc": desc}),
        create_vector(api, 2, env_id="FrozenLake-v1", kwargs={"desc": desc}),
    ):
        assert response.status_code == 400
        body = response.json()
        assert list(body["fields"]) == ["kwargs"] and body["code"] == "too_large"
        size = len(json.dumps({"desc": desc}, separators=(",", ":")))
        assert f"at most 100 bytes as JSON on this server (GYMAPI_MAX_KWARGS_BYTES); these are {size}." in body["detail"]
    assert EnvInstance.objects.count() == 1


# --- max_episode_steps -------------------------------------------------------------


@pytest.mark.parametrize("route", ["envs", "vector_envs"])
def test_a_max_episode_steps_over_the_ceiling_is_a_400_naming_it(api, settings, route):
    settings.GYMAPI_MAX_EPISODE_STEPS = 100
    body = {"env_id": "CartPole-v1", "num_envs": 2} if route == "vector_envs" else {"env_id": "CartPole-v1"}
    response = api.post(f"/v1/{route}/", {**body, "max_episode_steps": 101})
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["max_episode_steps"]
    assert "at most 100 on this server (GYMAPI_MAX_EPISODE_STEPS); got 101" in response.json()["detail"]
    assert not EnvInstance.objects.exists()
    assert api.post(f"/v1/{route}/", {**body, "max_episode_steps": 100}).status_code == 201


def test_an_environment_without_a_limit_of_its_own_gets_the_ceiling(api, settings):
    settings.GYMAPI_MAX_EPISODE_STEPS = 5
    instance_id = create(api, env_id="gymapi-test/Fragile-v0").json()["instance_id"]  # never ends by itself
    assert EnvInstance.objects.get(pk=instance_id).max_episode_steps == 5
    api.post(f"/v1/envs/{instance_id}/reset/", {})
    answers = [api.post(f"/v1/envs/{instance_id}/step/", {"action": 0}).json() for _ in range(5)]
    assert [answer["truncated"] for answer in answers] == [False] * 4 + [True]


def test_an_environment_with_a_longer_limit_gets_the_ceiling_and_a_shorter_keeps_its_own(api, settings):
    settings.GYMAPI_MAX_EPISODE_STEPS = 200
    longer = create(api, env_id="CartPole-v1").json()["instance_id"]  # 500 of its own
    shorter = create(api, env_id="MountainCar-v0").json()["instance_id"]  # 200 of its own
    assert runtime.get(longer).spec.max_episode_steps == 200
    assert EnvInstance.objects.get(pk=longer).max_episode_steps == 200
    assert runtime.get(shorter).spec.max_episode_steps == 200
    settings.GYMAPI_MAX_EPISODE_STEPS = 0  # no ceiling: each its own, as gym.make gives it
    assert runtime.get(create(api).json()["instance_id"]).spec.max_episode_steps == 500
    unbounded = create(api, env_id="gymapi-test/Fragile-v0").json()["instance_id"]
    assert runtime.get(unbounded).spec.max_episode_steps is None
