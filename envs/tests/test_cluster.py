"""The Ray runtime (GYMAPI_RUNTIME=ray): instances are actors of a Ray cluster, served by any front.

Real fronts (the production server) on a real local Ray cluster and a shared PostgreSQL database,
as README, Scaling out, sets them up: every route of every instance from every front; episode rows
written once; watchers of one front see what another front's clients do; caps and reaping held
across fronts; one environment that dies takes nothing else with it.
"""

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import requests
import websockets

from gymapi.testing.server import BASE_DIR, free_port

from .cluster import CHANNEL_PREFIX, REDIS_URL, Database, call, cluster, front, wait_until  # noqa: F401 (fixtures)

pytestmark = pytest.mark.cluster


def create(server, env_id="CartPole-v1", **fields):
    return call(server, "POST", "/v1/envs/", {"env_id": env_id, **fields}, expect=201)[1]["instance_id"]


def play(server, instance_id, action=0):
    """One episode to its end through ``server``: (steps, return)."""
    call(server, "POST", f"/v1/envs/{instance_id}/reset/", {}, expect=200)
    steps, total = 0, 0.0
    while True:
        body = call(server, "POST", f"/v1/envs/{instance_id}/step/", {"action": action}, expect=200)[1]
        steps, total = steps + 1, total + body["reward"]
        if body["done"]:
            return steps, total


def actor_pid(instance_id):
    import ray

    return ray.get(ray.get_actor(instance_id, namespace="gymapi").pid.remote())


def test_every_front_serves_every_instance_and_each_row_is_written_once(cluster):
    _, database, a, b = cluster
    instance_id = create(a, seed=1)
    seen = [play(b, instance_id), play(a, instance_id, action=1), play(b, instance_id)]
    detail = call(a, "GET", f"/v1/envs/{instance_id}/", expect=200)[1]
    assert detail["episodes"] == 3 and detail["episode"]["needs_reset"]
    rows = database.rows("select number, steps, total_reward from envs_episode where instance_id = %s order by number",
                         instance_id)
    assert rows == [(number, steps, total) for number, (steps, total) in enumerate(seen, start=1)]
    assert call(b, "GET", f"/v1/envs/{instance_id}/action_space/", expect=200)[1]["name"] == "Discrete"
    assert call(a, "GET", f"/v1/envs/{instance_id}/action_space/sample/", expect=200)[1]["action"] in (0, 1)
    assert call(b, "GET", "/v1/envs/", expect=200)[1] == call(a, "GET", "/v1/envs/", expect=200)[1]
    assert call(b, "DELETE", f"/v1/envs/{instance_id}/", expect=200)[1]["status"] == "closed"
    status, gone = call(a, "POST", f"/v1/envs/{instance_id}/step/", {"action": 0})
    assert (status, gone["code"]) == (410, "instance_closed")


def test_episodes_played_through_two_fronts_are_recorded_for_replay_and_replay(cluster):
    _, _, a, b = cluster
    instance_id = create(a, seed=3)
    call(b, "POST", f"/v1/envs/{instance_id}/reset/", {}, expect=200)  # unseeded: the generator's state is kept
    for step in range(200):
        body = call((a, b)[step % 2], "POST", f"/v1/envs/{instance_id}/step/", {"action": step % 3 // 2}, expect=200)[1]
        if body["done"]:
            break
    rows = call(a, "GET", f"/v1/episodes/?instance_id={instance_id}", expect=200)[1]["results"]
    assert [(row["number"], row["steps"]) for row in rows] == [(1, step + 1)]
    detail = call(b, "GET", f"/v1/episodes/{rows[0]['id']}/", expect=200)[1]
    assert detail["actions"] == [index % 3 // 2 for index in range(step + 1)]
    replay = call(b, "GET", f"/v1/episodes/{rows[0]['id']}/replay/", expect=200)[1]
    assert replay["reproduced"] and replay["return"] == rows[0]["return"]
    call(a, "DELETE", f"/v1/envs/{instance_id}/", expect=200)


def test_vector_instances_and_step_sockets_work_across_fronts(cluster):
    _, database, a, b = cluster
    vector_id = call(a, "POST", "/v1/vector_envs/", {"env_id": "CartPole-v1", "num_envs": 4, "seed": 0}, expect=201)[1]
    vector_id = vector_id["instance_id"]
    call(b, "POST", f"/v1/vector_envs/{vector_id}/reset/", {}, expect=200)
    ended = 0
    for _ in range(40):
        ended += sum(call(b, "POST", f"/v1/vector_envs/{vector_id}/step/", {"action": [1, 1, 1, 1]}, expect=200)[1]["done"])
    listed = call(a, "GET", f"/v1/vector_envs/{vector_id}/episodes/", expect=200)[1]
    assert listed["count"] == ended > 0

    singles = [create(a, seed=seed) for seed in (1, 2)]

    async def pipelined():
        async with websockets.connect(f"ws://127.0.0.1:{b.port}/ws/step/") as socket:
            for instance_id in singles:
                await socket.send(json.dumps({"op": "reset", "instance_id": instance_id, "id": instance_id}))
            answers = [json.loads(await socket.recv()) for _ in singles]
            for round_ in range(5):
                for instance_id in singles:
                    await socket.send(json.dumps({"op": "step", "action": 0, "instance_id": instance_id}))
                answers += [json.loads(await socket.recv()) for _ in singles]
            return answers

    answers = asyncio.run(pipelined())
    assert [answer["id"] for answer in answers[:2]] == singles and all("observation" in answer for answer in answers)
    for instance_id in singles:
        call(a, "DELETE", f"/v1/envs/{instance_id}/", expect=200)
    call(b, "DELETE", f"/v1/vector_envs/{vector_id}/", expect=200)


def test_watchers_of_one_front_see_what_another_fronts_clients_do(cluster):
    _, _, a, b = cluster
    instance_id = create(a, render_mode="rgb_array", seed=3)

    async def watch():
        async with websockets.connect(f"ws://127.0.0.1:{a.port}/ws/envs/{instance_id}/") as watcher:
            assert json.loads(await watcher.recv())["type"] == "instance"
            await asyncio.to_thread(play, b, instance_id)
            events, frames = [], 0
            deadline = time.monotonic() + 30
            # Frames, step events and an episode's end travel apart (frames and steps throttled
            # streams, the end written with its row): any may come first.
            while time.monotonic() < deadline and not (
                frames
                and any(event["type"] == "episode_finished" for event in events)
                and any(event["type"] == "step" and event["step"] > 0 for event in events)
            ):
                message = await asyncio.wait_for(watcher.recv(), 30)
                if isinstance(message, bytes):
                    frames += 1
                else:
                    events.append(json.loads(message))
            return events, frames

    events, frames = asyncio.run(watch())
    assert any(event["type"] == "step" and event["step"] > 0 for event in events), events
    assert frames > 0  # JPEG frames, drawn in the actor
    assert any(event["type"] == "episode_finished" for event in events)
    call(b, "DELETE", f"/v1/envs/{instance_id}/", expect=200)


def test_the_server_wide_cap_counts_every_fronts_instances(cluster):
    _, _, a, b = cluster
    made = []
    while True:
        server = (a, b)[len(made) % 2]
        status, answer = call(server, "POST", "/v1/envs/", {"env_id": "CartPole-v1"})
        if status != 201:
            break
        made.append(answer["instance_id"])
    assert (status, answer["code"]) == (429, "too_many_instances") and len(made) <= 12
    held = len(call(a, "GET", "/v1/envs/", expect=200)[1]) + sum(
        item["num_envs"] for item in call(a, "GET", "/v1/vector_envs/", expect=200)[1].values()
    )
    assert held == 12
    for instance_id in made:
        call(b, "DELETE", f"/v1/envs/{instance_id}/", expect=200)


def test_a_creation_no_node_has_room_for_is_a_503_at_once_that_records_nothing(cluster):
    _, database, a, b = cluster
    made, started = [], time.monotonic()
    while len(made) < 5:  # 16 CPUs in all, 4 an instance (GYMAPI_RAY_MAX_NUM_CPUS)
        status, answer = call((a, b)[len(made) % 2], "POST", "/v1/envs/", {"env_id": "CartPole-v1", "num_cpus": 4})
        if status != 201:
            break
        made.append(answer["instance_id"])
    assert (status, answer["code"]) == (503, "cluster_full") and len(made) < 5
    assert "num_cpus=4" in answer["detail"] and time.monotonic() - started < 30  # not the 60 s call timeout
    listed = call(a, "GET", "/v1/envs/", expect=200)[1]
    assert database.rows("select count(*) from envs_envinstance where status = 'active'")[0][0] == len(listed)
    for instance_id in made:
        call(b, "DELETE", f"/v1/envs/{instance_id}/", expect=200)
    # The room a close makes is there for the next creation at once, though Ray counts it back a moment later.
    again = [call((a, b)[n % 2], "POST", "/v1/envs/", {"env_id": "CartPole-v1", "num_cpus": 4}, expect=201)[1]["instance_id"]
             for n in range(len(made))]
    for instance_id in again:
        call(a, "DELETE", f"/v1/envs/{instance_id}/", expect=200)


def test_a_killed_actor_breaks_its_instance_and_nothing_else(cluster):
    _, database, a, b = cluster
    victim, other = create(a, seed=1), create(a, seed=2)
    finished = play(b, victim)
    os.kill(actor_pid(victim), signal.SIGKILL)
    status, answer = call(b, "POST", f"/v1/envs/{victim}/reset/", {})
    assert (status, answer["code"]) == (410, "instance_broken") and "Ray worker process ended" in answer["detail"]
    assert call(a, "GET", f"/v1/envs/{victim}/", expect=410)[1]["code"] == "instance_broken"
    assert database.rows("select steps, total_reward from envs_episode where instance_id = %s", victim) == [finished]
    play(a, other)  # the others, and the fronts, as before
    call(b, "DELETE", f"/v1/envs/{other}/", expect=200)


def test_an_environment_that_aborts_its_process_takes_only_itself_down(cluster):
    _, _, a, b = cluster
    aborting, other = create(a, "gymapi-test/Aborting-v0"), create(b, seed=4)
    call(a, "POST", f"/v1/envs/{aborting}/reset/", {}, expect=200)
    call(a, "POST", f"/v1/envs/{aborting}/step/", {"action": 0}, expect=200)
    status, answer = call(b, "POST", f"/v1/envs/{aborting}/step/", {"action": 1})  # os.abort() in its actor
    assert (status, answer["code"]) == (410, "instance_broken")
    assert call(a, "GET", f"/v1/envs/{aborting}/", expect=410)[1]["code"] == "instance_broken"
    play(a, other)
    call(a, "DELETE", f"/v1/envs/{other}/", expect=200)


def test_a_front_killed_leaves_its_instances_to_the_others_and_a_new_one_marks_none_lost(cluster, tmp_path_factory):
    address, database, a, _ = cluster
    with front(tmp_path_factory, address, database) as doomed:
        instance_id = create(doomed, seed=5)
        call(doomed, "POST", f"/v1/envs/{instance_id}/reset/", {}, expect=200)
        doomed.process.kill()  # kill -9
        doomed.process.wait()
    play(a, instance_id)
    newcomer = front(tmp_path_factory, address, database)
    try:
        assert call(newcomer, "GET", f"/v1/envs/{instance_id}/", expect=200)[1]["status"] == "active"
        assert database.rows("select status from envs_envinstance where id = %s", instance_id) == [("active",)]
    finally:
        newcomer.stop()
    call(a, "DELETE", f"/v1/envs/{instance_id}/", expect=200)


def test_one_front_reaps_the_clusters_idle_instances(cluster, tmp_path_factory):
    address = cluster[0]
    # Fronts of their own (one of the shared ones would lead, idle an hour), each stopped whatever fails after its start.
    with Database() as database, contextlib.ExitStack() as started:
        reapers = [
            started.enter_context(front(tmp_path_factory, address, database, GYMAPI_IDLE_SECONDS="2", GYMAPI_REAP_INTERVAL="0.5"))
            for _ in range(2)
        ]
        _reaped_once(database, reapers)


def _reaped_once(database, reapers):
    instance_id = create(reapers[0], seed=6)
    wait_until(lambda: database.rows("select status from envs_envinstance where id = %s", instance_id) == [("reaped",)],
               what="the reaping")
    logs = [open(reaper.log.name).read() for reaper in reapers]
    assert sum(log.count(f"Closed {instance_id} as reaped") for log in logs) == 1
    assert call(reapers[1], "POST", f"/v1/envs/{instance_id}/reset/", {})[1]["code"] == "instance_reaped"


def test_without_its_ray_cluster_a_front_says_so_and_the_database_routes_still_answer(tmp_path_factory, cluster):
    _, database, _, _ = cluster
    port, temp = free_port(), tmp_path_factory.mktemp("head")
    env = {**os.environ, "RAY_AUTH_MODE": "token"}
    head = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "ray"), "start", "--head", f"--port={port}", "--num-cpus=4",
         "--include-dashboard=false", "--disable-usage-stats", "--block", f"--temp-dir={temp}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        server = front(tmp_path_factory, f"127.0.0.1:{port}", database)
        try:
            instance_id = create(server, seed=7)
            call(server, "POST", f"/v1/envs/{instance_id}/reset/", {}, expect=200)
            _stop(head)
            status, answer = call(server, "POST", f"/v1/envs/{instance_id}/step/", {"action": 0})
            assert (status, answer["code"]) == (503, "runtime_unavailable")
            assert call(server, "GET", "/v1/envs/", expect=200)[1]  # the database's answers need no cluster
            assert call(server, "GET", f"/v1/envs/{instance_id}/episodes/")[0] in (200, 503)
        finally:
            server.stop()
    finally:
        _stop(head)
    # A front started while its cluster cannot be reached waits, and says so.
    waiting = subprocess.Popen(
        [sys.executable, "-m", "gymapi.serve", "--port", str(free_port())], cwd=BASE_DIR,
        env={**env, "GYMAPI_RUNTIME": "ray", "RAY_ADDRESS": f"127.0.0.1:{port}", "DATABASE_URL": database.url},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        output = b""
        deadline = time.monotonic() + 60
        while b"Waiting for the Ray cluster" not in output and time.monotonic() < deadline:
            output += os.read(waiting.stdout.fileno(), 65536)
        assert b"Waiting for the Ray cluster" in output
    finally:
        os.killpg(waiting.pid, signal.SIGKILL)
        waiting.wait()


def _stop(head):
    if head.poll() is None:
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()


def test_make_cluster_says_what_it_needs(tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    missing = subprocess.run([sys.executable, "-m", "gymapi.cluster"], cwd=BASE_DIR, env=env, capture_output=True, text=True)
    assert missing.returncode == 2 and "DATABASE_URL must name the PostgreSQL database" in missing.stderr
    env["DATABASE_URL"] = "postgres://postgres@127.0.0.1:1/nothing"
    env["REDIS_URL"] = REDIS_URL
    silent = subprocess.run([sys.executable, "-m", "gymapi.cluster"], cwd=BASE_DIR, env=env, capture_output=True, text=True)
    assert silent.returncode == 2 and "PostgreSQL at DATABASE_URL does not answer" in silent.stderr


def test_make_cluster_starts_a_head_and_fronts_and_stops_them_all(cluster):
    _, database, _, _ = cluster
    port, ray_port = free_port(), free_port()
    env = {**os.environ, "DATABASE_URL": database.url, "REDIS_URL": REDIS_URL, "GYMAPI_CHANNEL_PREFIX": CHANNEL_PREFIX,
           "FRONTS": "2", "PORT": str(port), "RAY_PORT": str(ray_port)}
    env.pop("RAY_ADDRESS", None)
    supervisor = subprocess.Popen([sys.executable, "-m", "gymapi.cluster"], cwd=BASE_DIR, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(lambda: all(_answers(port + index) for index in range(2)), seconds=120, what="the two fronts")
        instance_id = requests.post(f"http://127.0.0.1:{port}/v1/envs/", json={"env_id": "CartPole-v1"}, timeout=120).json()
        detail = requests.get(f"http://127.0.0.1:{port + 1}/v1/envs/{instance_id['instance_id']}/", timeout=60)
        assert detail.status_code == 200  # made through one front, served by the other
        supervisor.send_signal(signal.SIGTERM)
        output = supervisor.communicate(timeout=120)[0].decode()
    finally:
        if supervisor.poll() is None:
            os.killpg(supervisor.pid, signal.SIGKILL)
            supervisor.wait()
    assert "make cluster: stopped." in output
    assert not any(_answers(port + index) for index in range(2)) and not _answers(ray_port)


def _answers(port):
    try:
        return requests.get(f"http://127.0.0.1:{port}/v1/envs/", timeout=2).status_code == 200
    except requests.ConnectionError:
        return False
