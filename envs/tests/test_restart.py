"""Restart safety, against the real server process (gymapi/serve.py).

SIGTERM with GYMAPI_RESUME off: the server stops accepting, answers the
request in flight, writes every running episode (ended as interrupted, with
its counts), marks every instance closed and exits with status 0 (with it on,
test_resume.py: instances are suspended and taken up by the next server).

kill -9 in the middle of 8 episodes, then a new server on the same database:
every episode the clients saw end is recorded intact, the interrupted
instances are lost (410 ``instance_lost``), and the database passes an
integrity check. On SQLite, and on PostgreSQL when one answers (always in CI).
"""

import signal
import socket
import sqlite3
import time
import uuid
from contextlib import closing

import psycopg
import pytest
import requests

from gymapi.testing.server import ServerProcess

# No periodic writes of running episodes: what a kill leaves is exactly what ended.
QUIET = {"GYMAPI_FLUSH_SECONDS": "3600", "LOG_LEVEL": "WARNING"}


class Client:
    """An agent: drives instances over HTTP and keeps its own account of every episode."""

    def __init__(self, url):
        self.url = url
        self.session = requests.Session()
        # instance id -> [{"steps", "return", "terminated", "truncated", "over"}], one per reset
        self.seen = {}

    def call(self, method, path, body=None, expect=200):
        response = self.session.request(method, f"{self.url}{path}", json=body, timeout=30)
        assert response.status_code == expect, (path, response.status_code, response.text)
        return response.json() if response.content else None

    def create(self, **fields):
        instance_id = self.call("POST", "/v1/envs/", {"env_id": "CartPole-v1", **fields}, expect=201)["instance_id"]
        self.seen[instance_id] = []
        return instance_id

    def reset(self, instance_id, seed=None):
        self.call("POST", f"/v1/envs/{instance_id}/reset/", {} if seed is None else {"seed": seed})
        self.seen[instance_id].append({"steps": 0, "return": 0.0, "terminated": False, "truncated": False, "over": False})

    def step(self, instance_id, action):
        body = self.call("POST", f"/v1/envs/{instance_id}/step/", {"action": action})
        episode = self.seen[instance_id][-1]
        episode["steps"] += 1
        episode["return"] += body["reward"]
        episode["terminated"], episode["truncated"] = body["terminated"], body["truncated"]
        episode["over"] = body["terminated"] or body["truncated"]
        return episode["over"]

    def play(self, instance_id, *, episodes=0, then_steps=0, seed=None):
        """``episodes`` whole episodes (an action that ends them soon), then a reset and ``then_steps`` steps."""
        for number in range(episodes):
            self.reset(instance_id, None if seed is None else seed + number)
            while not self.step(instance_id, number % 2):
                pass
        if then_steps:
            self.reset(instance_id)
            for step in range(then_steps):
                assert not self.step(instance_id, step % 2)


class Database:
    """Read the server's database directly: SQLite or PostgreSQL."""

    def __init__(self, url):
        self.url = url

    def rows(self, sql):
        if self.url.startswith("sqlite:///"):
            with closing(sqlite3.connect(self.url.removeprefix("sqlite:///"))) as connection:
                return connection.execute(sql).fetchall()
        with psycopg.connect(self.url) as connection:
            return connection.execute(sql).fetchall()

    def statuses(self):
        return {uuid.UUID(str(pk)): status for pk, status in self.rows("select id, status from envs_envinstance")}

    def episodes(self, instance_id):
        """The single instance's episode rows, in order, as the client counts them."""
        rows = self.rows(
            "select instance_id, number, steps, total_reward, terminated, truncated, ended_at "
            "from envs_episode where sub_env = 0 order by number"
        )
        return [
            {"number": number, "steps": steps, "return": total, "terminated": bool(terminated),
             "truncated": bool(truncated), "ended": ended is not None}
            for pk, number, steps, total, terminated, truncated, ended in rows
            if uuid.UUID(str(pk)) == uuid.UUID(instance_id)
        ]

    def check_integrity(self):
        if self.url.startswith("sqlite:///"):
            assert self.rows("PRAGMA integrity_check") == [("ok",)]
            assert self.rows("PRAGMA foreign_key_check") == []
            return
        # amcheck (PostgreSQL's contrib): every table's heap and every btree index of the app.
        with psycopg.connect(self.url, autocommit=True) as connection:
            connection.execute("create extension if not exists amcheck")
            tables = [row[0] for row in connection.execute(
                "select tablename from pg_tables where schemaname = 'public' and tablename like 'envs_%'"
            )]
            assert {"envs_envinstance", "envs_episode"} <= set(tables)
            for table in tables:
                assert connection.execute("select * from verify_heapam(%s::regclass)", [table]).fetchall() == [], table
            indexes = connection.execute(
                "select c.oid from pg_index i join pg_class c on c.oid = i.indexrelid "
                "join pg_class t on t.oid = i.indrelid join pg_am a on a.oid = c.relam "
                "where t.relname like 'envs_%' and a.amname = 'btree'"
            ).fetchall()
            assert indexes
            for (oid,) in indexes:
                connection.execute("select bt_index_check(%s::regclass, true)", [oid])


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'restart.sqlite3'}"


def start(tmp_path, database_url, name, **env):
    directory = tmp_path / name  # a log of each server's own
    directory.mkdir()
    return ServerProcess(directory, DATABASE_URL=database_url, **QUIET | env).start()


def listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def test_with_GYMAPI_RESUME_off_it_closes_everything_and_records_every_episode_on_sigterm(tmp_path, sqlite_url):
    server = start(tmp_path, sqlite_url, "server", GYMAPI_RESUME="0")
    try:
        client = Client(server.url)
        finished = client.create(seed=1)
        client.play(finished, episodes=2, seed=10)
        running = client.create(seed=2)
        client.play(running, episodes=1, then_steps=7, seed=20)
        truncated = client.create(max_episode_steps=5)
        client.play(truncated, episodes=1, then_steps=3)
        just_reset = client.create()
        client.reset(just_reset)
        never_reset = client.create()
        vector = client.call("POST", "/v1/vector_envs/", {"env_id": "CartPole-v1", "num_envs": 3, "seed": 5}, expect=201)
        client.call("POST", f"/v1/vector_envs/{vector['instance_id']}/reset/", {})
        for _ in range(4):
            client.call("POST", f"/v1/vector_envs/{vector['instance_id']}/step/", {"action": [0, 1, 0]})

        # A step in flight: its headers and half its body are in when the signal comes.
        body = b'{"action": 1}'
        in_flight = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        in_flight.sendall(
            f"POST /v1/envs/{running}/step/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:5]
        )
        time.sleep(0.5)  # let the server read the headers
        server.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        while listening(server.port):  # it stops accepting...
            assert time.monotonic() < deadline, "still accepting 30 s after SIGTERM"
            time.sleep(0.05)
        in_flight.sendall(body[5:])  # ...and still answers the request it was reading
        answer = in_flight.makefile("rb").read()
        in_flight.close()
        assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
        client.seen[running][-1]["steps"] += 1
        client.seen[running][-1]["return"] += 1.0

        assert server.process.wait(timeout=60) == 0
    finally:
        server.stop()

    database = Database(sqlite_url)
    statuses = database.statuses()
    assert len(statuses) == 6
    assert set(statuses.values()) == {"closed"}
    for instance_id, seen in client.seen.items():
        expected = [
            {"number": number, "steps": episode["steps"], "return": episode["return"],
             "terminated": episode["terminated"], "truncated": episode["truncated"], "ended": True}
            for number, episode in enumerate(seen, start=1)
            if episode["steps"]  # an episode that took no step is not written
        ]
        assert database.episodes(instance_id) == expected, instance_id
    # What the close wrote of the running ones: their counts, ended as interrupted.
    interrupted = database.episodes(running)[-1]
    assert (interrupted["steps"], interrupted["terminated"], interrupted["truncated"]) == (8, False, False)
    assert database.episodes(just_reset) == []  # its episode took no step
    assert database.episodes(never_reset) == []
    # The vector instance: one row per sub-environment's episode, those still running ended too.
    vector_rows = database.rows(
        "select sub_env, steps, ended_at, terminated from envs_episode "
        f"where instance_id = '{uuid.UUID(vector['instance_id']).hex}'"
    )
    assert sorted((sub_env, steps, ended is not None, bool(terminated)) for sub_env, steps, ended, terminated in vector_rows) == [
        (0, 4, True, False), (1, 4, True, False), (2, 4, True, False)
    ]
    database.check_integrity()


@pytest.mark.parametrize("database_url", ["sqlite_url", "postgres_url"])
def test_it_keeps_every_finished_episode_through_a_kill_9(request, tmp_path, database_url):
    url = request.getfixturevalue(database_url)
    server = start(tmp_path, url, "killed")
    client = Client(server.url)
    try:
        instances = [client.create(seed=index, **({"max_episode_steps": 6} if index % 4 == 0 else {}))
                     for index in range(8)]
        for index, instance_id in enumerate(instances):
            client.play(instance_id, episodes=1 + index % 3, then_steps=1 + index % 4, seed=100 * index)
        server.process.kill()
        assert server.process.wait(timeout=30) == -signal.SIGKILL
    finally:
        server.stop()

    database = Database(url)
    assert set(database.statuses().values()) == {"active"}  # as the killed process left them

    restarted = start(tmp_path, url, "restarted")
    try:
        again = Client(restarted.url)
        for instance_id in instances:
            for method, path, body in (("GET", "", None), ("POST", "step/", {"action": 0}), ("POST", "reset/", {})):
                answer = again.call(method, f"/v1/envs/{instance_id}/{path}", body, expect=410)
                assert answer["code"] == "instance_lost", answer
        assert again.call("GET", "/v1/envs/") == {}
    finally:
        restarted.stop()

    assert set(database.statuses().values()) == {"lost"}
    for instance_id in instances:
        completed = [
            {"number": number, "steps": episode["steps"], "return": episode["return"],
             "terminated": episode["terminated"], "truncated": episode["truncated"], "ended": True}
            for number, episode in enumerate(client.seen[instance_id], start=1)
            if episode["over"]
        ]
        assert len(completed) == len(client.seen[instance_id]) - 1  # the last was running
        assert database.episodes(instance_id) == completed, instance_id
    assert any(episode["truncated"] for seen in client.seen.values() for episode in seen)
    database.check_integrity()
