"""Instances that survive a restart (README, Restarts), against real servers on SQLite and PostgreSQL.

SIGTERM suspends every instance that records its actions; the next server
rebuilds each under its id, and its client's next step, over REST or a
reconnected step socket, answers exactly what an in-process environment
with the same seeds and actions answers. After a ``kill -9`` an instance
resumes only when its rows cover every answer it gave (it rested for
``GYMAPI_FLUSH_SECONDS``); otherwise, and for an environment that replays
differently, it is lost with the reason.
"""

import signal
import time
import uuid

import gymnasium as gym
import numpy as np
import pytest
import requests
from gymapi_client import StepSocket
from gymapi_client.spaces import encode_any

from envs.models import EnvInstance, Episode, InstanceStatus
from envs.recording.writer import writer
from envs.services import resume

from .test_restart import Database
from .test_restart import start as start_server

# Instances rest (and are checkpointed) after half a second untouched.
ENV = {"GYMAPI_FLUSH_SECONDS": "0.5", "LOG_LEVEL": "WARNING", "GYMAPI_ENV_PACKAGES": "envs.tests.faulty_envs"}


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'resume.sqlite3'}"


def start(tmp_path, database_url, name, **env):
    """test_restart.py's server, with instances that rest (and are checkpointed) after half a second."""
    return start_server(tmp_path, database_url, name, **ENV | env)


class Api:
    """A client of one server, over HTTP."""

    def __init__(self, url):
        self.url = url
        self.session = requests.Session()

    def call(self, method, path, body=None, expect=200):
        response = self.session.request(method, f"{self.url}{path}", json=body, timeout=60)
        assert response.status_code == expect, (path, response.status_code, response.text)
        return response.json()

    def create(self, env_id="CartPole-v1", **fields):
        return self.call("POST", "/v1/envs/", {"env_id": env_id, **fields}, expect=201)["instance_id"]

    def reset(self, instance_id, seed=None):
        return self.call("POST", f"/v1/envs/{instance_id}/reset/", {} if seed is None else {"seed": seed})["observation"]

    def step(self, instance_id, action):
        return step_of(self.call("POST", f"/v1/envs/{instance_id}/step/", {"action": action}))


def step_of(body):
    return {key: body[key] for key in ("observation", "reward", "terminated", "truncated")}


class Twin:
    """The same environment in this process, given the same seeds and actions: what an
    uninterrupted server answers."""

    def __init__(self, seed=None):
        self.env = gym.make("CartPole-v1")
        self.pending = seed  # the creation seed seeds the first reset, as the server's does
        self.number = self.steps = 0

    def reset(self, seed=None):
        seed, self.pending = (self.pending if seed is None else seed), None
        observation, _ = self.env.reset(seed=seed)
        self.number, self.steps = self.number + 1, 0
        return encode_any(observation)

    def step(self, action):
        observation, reward, terminated, truncated, _ = self.env.step(action)
        self.steps += 1
        return {"observation": encode_any(observation), "reward": float(reward), "terminated": terminated,
                "truncated": truncated}


def play(api, twin, instance_id, actions):
    """Step both with ``actions`` (one per step, cycled) until the episode ends; each answer the same."""
    for index in range(10_000):
        answer, expected = api.step(instance_id, actions[index % len(actions)]), twin.step(actions[index % len(actions)])
        assert answer == expected, (instance_id, index)
        if answer["terminated"] or answer["truncated"]:
            return


def episode_of(api, instance_id):
    episode = api.call("GET", f"/v1/envs/{instance_id}/")["episode"]
    return episode["number"], episode["steps"]


@pytest.mark.parametrize("database_url", ["sqlite_url", "postgres_url"])
def test_after_a_sigterm_the_next_server_continues_every_instance_exactly(request, tmp_path, database_url):
    url = request.getfixturevalue(database_url)
    twins = {}
    with start(tmp_path, url, "first") as first:
        api = Api(first.url)
        seeded = api.create(seed=3)  # mid-episode, from a seeded reset
        twins[seeded] = Twin(3)
        assert api.reset(seeded, seed=7) == twins[seeded].reset(7)
        for action in (0, 1, 1, 0, 1):
            assert api.step(seeded, action) == twins[seeded].step(action)
        unseeded = api.create(seed=11)  # mid-episode, from an unseeded reset (the generator's state)
        twins[unseeded] = Twin(11)
        assert api.reset(unseeded) == twins[unseeded].reset()
        play(api, twins[unseeded], unseeded, [0, 0, 1])
        assert api.reset(unseeded) == twins[unseeded].reset()
        for action in (1, 0, 0, 1):
            assert api.step(unseeded, action) == twins[unseeded].step(action)
        between = api.create(seed=5)  # its episode ended, no reset since
        twins[between] = Twin(5)
        assert api.reset(between) == twins[between].reset()
        play(api, twins[between], between, [1])
        fresh = api.create(seed=9)  # never reset
        twins[fresh] = Twin(9)
        first.process.send_signal(signal.SIGTERM)
        assert first.process.wait(timeout=60) == 0

    database = Database(url)
    assert set(database.statuses().values()) == {"suspended"}

    with start(tmp_path, url, "second") as second:
        api = Api(second.url)
        assert set(api.call("GET", "/v1/envs/")) == set(twins)
        # Over REST: the same episode, its count and its next steps.
        assert episode_of(api, seeded) == (1, 5)
        play(api, twins[seeded], seeded, [1, 0])
        # Over a step socket, connected again: the same.
        assert episode_of(api, unseeded) == (2, 4)
        socket = StepSocket(second.url, f"/ws/envs/{unseeded}/step/")
        try:
            for index in range(10_000):
                answer = step_of(socket.call({"op": "step", "action": index % 2}))
                assert answer == twins[unseeded].step(index % 2), index
                if answer["terminated"] or answer["truncated"]:
                    break
            second_episode_steps = twins[unseeded].steps
            # The next unseeded reset continues the environment's generator, as it would have.
            assert socket.call({"op": "reset"})["observation"] == twins[unseeded].reset()
        finally:
            socket.close()
        over = api.call("POST", f"/v1/envs/{between}/step/", {"action": 0}, expect=400)
        assert "episode is over" in over["detail"]
        assert api.reset(between) == twins[between].reset()
        assert api.reset(fresh) == twins[fresh].reset()  # the creation seed, still unspent
        assert api.step(fresh, 1) == twins[fresh].step(1)
    assert "Rebuilt 4 of 4 instance(s) (4 resumed, 0 lost)" in (tmp_path / "second" / "server.log").read_text()

    # Each episode is one row with all its steps, before the restart and after.
    rows = database.episodes(seeded)
    assert [(row["number"], row["steps"], row["ended"]) for row in rows] == [(1, twins[seeded].steps, True)]
    second_episode = database.episodes(unseeded)[1]
    assert (second_episode["number"], second_episode["steps"]) == (2, second_episode_steps)
    assert second_episode["ended"] and second_episode["terminated"]
    database.check_integrity()


@pytest.mark.parametrize("database_url", ["sqlite_url", "postgres_url"])
def test_after_a_kill_9_an_instance_resumes_only_when_its_rows_cover_what_it_answered(request, tmp_path, database_url):
    url = request.getfixturevalue(database_url)
    with start(tmp_path, url, "killed") as killed:
        api = Api(killed.url)
        rested = api.create(seed=1)
        rested_twin = Twin(1)
        assert api.reset(rested) == rested_twin.reset()
        for action in (0, 1, 0):
            assert api.step(rested, action) == rested_twin.step(action)
        busy = api.create(seed=2)
        assert api.reset(busy) == Twin(2).reset()
        vector = api.call("POST", "/v1/vector_envs/", {"env_id": "FrozenLake-v1", "num_envs": 2}, expect=201)
        api.call("POST", f"/v1/vector_envs/{vector['instance_id']}/reset/", {"seed": 1})
        time.sleep(2.0)  # the single ones rest past GYMAPI_FLUSH_SECONDS: checkpointed
        api.step(busy, 1)  # answered, and not written before the kill
        killed.process.kill()
        assert killed.process.wait(timeout=30) == -signal.SIGKILL

    with start(tmp_path, url, "restarted") as restarted:
        api = Api(restarted.url)
        assert episode_of(api, rested) == (1, 3)
        play(api, rested_twin, rested, [1, 1, 0])
        for method, path, body in (("GET", "", None), ("POST", "step/", {"action": 0})):
            lost = api.call(method, f"/v1/envs/{busy}/{path}", body, expect=410)
            assert lost["code"] == "instance_lost"
            assert "not yet written to the database" in lost["detail"] and "GYMAPI_FLUSH_SECONDS" in lost["detail"]
        # A vector instance's running episodes are written at a stop only.
        lost = api.call("GET", f"/v1/vector_envs/{vector['instance_id']}/", expect=410)
        assert lost["code"] == "instance_lost" and "not after a crash" in lost["detail"]
    statuses = Database(url).statuses()  # the second server stopped as the first did not: with SIGTERM
    assert statuses[uuid.UUID(busy)] == "lost" and statuses[uuid.UUID(rested)] == "suspended"


def vector_actions(step):
    return [step % 4, (step + 1) % 4, (step * 3) % 4]


@pytest.mark.parametrize("database_url", ["sqlite_url", "postgres_url"])
def test_after_a_sigterm_a_vector_instance_continues_every_sub_environment_exactly(request, tmp_path, database_url):
    url = request.getfixturevalue(database_url)
    # A slippery FrozenLake: each step draws from its sub-environment's generator, and episodes end apart.
    twin = gym.make_vec("FrozenLake-v1", 3, vectorization_mode="sync")
    twin.reset(seed=5)

    def twin_step(step):
        observation, reward, terminated, truncated, _ = twin.step(np.array(vector_actions(step)))
        return [encode_any(observation), encode_any(reward), terminated.tolist(), truncated.tolist()]

    def served_step(api, instance_id, step):
        body = api.call("POST", f"/v1/vector_envs/{instance_id}/step/", {"action": vector_actions(step)})
        return [body["observation"], body["reward"], body["terminated"], body["truncated"]]

    with start(tmp_path, url, "first") as first:
        api = Api(first.url)
        instance_id = api.call("POST", "/v1/vector_envs/", {"env_id": "FrozenLake-v1", "num_envs": 3}, expect=201)[
            "instance_id"
        ]
        api.call("POST", f"/v1/vector_envs/{instance_id}/reset/", {"seed": 5})
        ended = 0
        for step in range(12):
            answer = served_step(api, instance_id, step)
            assert answer == twin_step(step), step
            ended += sum(answer[2]) + sum(answer[3])
        assert ended, "no sub-environment's episode ended before the restart"
        first.process.send_signal(signal.SIGTERM)
        assert first.process.wait(timeout=60) == 0
    assert Database(url).statuses()[uuid.UUID(instance_id)] == "suspended"

    with start(tmp_path, url, "second") as second:
        api = Api(second.url)
        assert api.call("GET", f"/v1/vector_envs/{instance_id}/")["steps"] == 12
        for step in range(12, 40):
            assert served_step(api, instance_id, step) == twin_step(step), step
        episodes = api.call("GET", f"/v1/vector_envs/{instance_id}/episodes/")
    # One row per episode of each sub-environment, those that spanned the restart included.
    rows = Database(url).rows(
        f"select sub_env, number from envs_episode where instance_id = '{uuid.UUID(instance_id).hex}'"
        if url.startswith("sqlite") else
        f"select sub_env, number from envs_episode where instance_id = '{instance_id}'"
    )
    assert len(rows) == len(set(rows))
    assert episodes


def test_what_cannot_be_rebuilt_exactly_is_lost_or_closed_with_the_reason(tmp_path, sqlite_url):
    with start(tmp_path, sqlite_url, "first") as first:
        api = Api(first.url)
        unseeded = api.create("gymapi-test/Unseeded-v0", seed=1)  # draws from a source no seed reaches
        api.reset(unseeded)
        for _ in range(3):
            api.step(unseeded, 0)
        unrecorded = api.create(seed=1, record_actions=False)
        api.reset(unrecorded)
        api.step(unrecorded, 0)
        vector = api.call("POST", "/v1/vector_envs/", {"env_id": "CartPole-v1", "num_envs": 2, "seed": 1}, expect=201)
        first.process.send_signal(signal.SIGTERM)
        assert first.process.wait(timeout=60) == 0
    statuses = Database(sqlite_url).statuses()
    assert statuses[uuid.UUID(unseeded)] == "suspended"
    # Not resumable: closed at the shutdown as before, their running episodes written.
    assert statuses[uuid.UUID(unrecorded)] == "closed"
    assert statuses[uuid.UUID(vector["instance_id"])] == "closed"

    with start(tmp_path, sqlite_url, "second") as second:
        api = Api(second.url)
        lost = api.call("POST", f"/v1/envs/{unseeded}/step/", {"action": 0}, expect=410)
        assert lost["code"] == "instance_lost"
        assert "not deterministic under replay" in lost["detail"], lost
        closed = api.call("POST", f"/v1/envs/{unrecorded}/step/", {"action": 0}, expect=410)
        assert closed["code"] == "instance_closed"
    log = (tmp_path / "second" / "server.log").read_text()
    assert "Rebuilt 1 of 1 instance(s) (0 resumed, 1 lost)" in log


@pytest.mark.django_db
def test_a_suspended_instance_is_answered_503_until_a_server_takes_it_up(client):
    # Suspended by a server that stopped; this process (a server of another host, say) holds no environment of it.
    instance = EnvInstance.objects.create(env_id="CartPole-v1", status=InstanceStatus.SUSPENDED, process="elsewhere:1:1")
    response = client.post(f"/v1/envs/{instance.pk}/step/", {"action": 0}, content_type="application/json")
    assert response.status_code == 503
    assert response.json()["code"] == "instance_suspended"
    assert response.headers["Retry-After"] == "5"
    assert EnvInstance.objects.get(pk=instance.pk).status == InstanceStatus.SUSPENDED


def test_with_GYMAPI_RESUME_off_the_next_server_marks_suspended_instances_lost(tmp_path, sqlite_url):
    with start(tmp_path, sqlite_url, "first") as first:
        api = Api(first.url)
        instance_id = api.create(seed=1)
        api.reset(instance_id)
        first.process.send_signal(signal.SIGTERM)
        assert first.process.wait(timeout=60) == 0
    with start(tmp_path, sqlite_url, "second", GYMAPI_RESUME="0") as second:
        lost = Api(second.url).call("GET", f"/v1/envs/{instance_id}/", expect=410)
    assert lost["code"] == "instance_lost" and "GYMAPI_RESUME off" in lost["detail"]


# What is written so that a crash can be told apart from a rest (in this process, no server).


def rows_of(instance_id):
    return list(
        Episode.objects.filter(instance_id=instance_id).order_by("number").values_list("number", "steps", "resumable")
    )


@pytest.mark.django_db
def test_the_first_reset_and_the_first_step_after_a_checkpoint_are_written_before_their_answers(api, make_instance):
    instance_id = make_instance()
    assert rows_of(instance_id) == []  # its creation record covers it: nothing was answered yet
    api.post(f"/v1/envs/{instance_id}/reset/", {"seed": 1})
    assert rows_of(instance_id) == [(1, 0, False)]  # the reset was answered past what the database holds
    for action in (0, 1, 0):
        api.post(f"/v1/envs/{instance_id}/step/", {"action": action})
    assert rows_of(instance_id) == [(1, 0, False)]  # stepping on costs no write (GYMAPI_FLUSH_SECONDS)
    assert resume.checkpoint(idle=0) == 1
    assert rows_of(instance_id) == [(1, 3, True)]
    assert resume.checkpoint(idle=0) == 0  # nothing new to cover
    api.post(f"/v1/envs/{instance_id}/step/", {"action": 1})
    assert rows_of(instance_id) == [(1, 4, False)]
    api.post(f"/v1/envs/{instance_id}/step/", {"action": 1})
    assert rows_of(instance_id) == [(1, 4, False)]


@pytest.mark.django_db
def test_a_checkpoint_marks_an_ended_episode_resumable_and_changes_nothing_else(api, make_instance):
    instance_id = make_instance(reset=True, reset_seed=2)
    while not api.post(f"/v1/envs/{instance_id}/step/", {"action": 1}).json()["done"]:
        pass
    ended = Episode.objects.get(instance_id=instance_id)
    assert ended.ended_at is not None and not ended.resumable
    assert resume.checkpoint(idle=0) == 1
    again = Episode.objects.get(instance_id=instance_id)
    assert again.resumable
    assert (again.ended_at, again.steps, again.total_reward, again.terminated, bytes(again.actions)) == (
        ended.ended_at, ended.steps, ended.total_reward, ended.terminated, bytes(ended.actions)
    )
    api.post(f"/v1/envs/{instance_id}/reset/", {})
    assert rows_of(instance_id) == [(1, ended.steps, False)]  # its end again: a reset was answered past it


@pytest.mark.django_db
def test_instances_that_cannot_be_rebuilt_write_nothing_more(api, make_instance, settings):
    unrecorded = make_instance(record_actions=False)
    api.post(f"/v1/envs/{unrecorded}/reset/", {})
    settings.GYMAPI_RESUME = False
    off = make_instance()
    api.post(f"/v1/envs/{off}/reset/", {})
    assert rows_of(unrecorded) == rows_of(off) == []
    assert resume.checkpoint(idle=0) == 0


@pytest.mark.django_db
def test_a_rested_instance_is_not_woken_while_rows_wait_for_the_database(api, make_instance, monkeypatch):
    rested, stepping = make_instance(reset=True), make_instance(reset=True)
    api.post(f"/v1/envs/{stepping}/step/", {"action": 0})
    assert resume.checkpoint(idle=0) == 2
    api.post(f"/v1/envs/{stepping}/step/", {"action": 0})  # no longer at rest
    monkeypatch.setattr(writer, "backlog", [object()])  # the database cannot be reached: rows wait
    # Its answer would go out before the row saying so: a crash then would resume it into the past.
    refused = api.post(f"/v1/envs/{rested}/step/", {"action": 0})
    assert refused.status_code == 503 and refused.json()["code"] == "database_unavailable"
    assert api.get(f"/v1/envs/{rested}/").json()["episode"]["steps"] == 0  # nothing changed
    assert api.post(f"/v1/envs/{stepping}/step/", {"action": 0}).status_code == 200
