"""The episode writer process (envs/writer_process.py).

With ``GYMAPI_WRITER=process`` the production server writes the episode rows
that its answers wait for in a process of its own (by default its loop writes
them itself: envs/writer_inline.py, envs/writer_postgres.py). It keeps the writer thread's promises: one row per
episode, written before the answer that ended it; nothing lost or written
twice when the process dies with writes in hand; no process left behind when
the server stops. Against the real server (gymapi/serve.py), on SQLite, and
on PostgreSQL when one answers (always in CI).
"""

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from contextlib import closing
from pathlib import Path

import psycopg
import pytest
import requests
from django.utils import timezone

from envs.models import EnvInstance, Episode
from envs.recording import EpisodeWrite, write_all
from envs.writer_process import Frames, frame
from gymapi.testing.server import ServerProcess

BASE_DIR = Path(__file__).resolve().parent.parent.parent
# No periodic writes of running episodes: every row is an episode's end.
QUIET = {"GYMAPI_FLUSH_SECONDS": "3600", "LOG_LEVEL": "WARNING"}


def episode_rows(database_url, instance_id):
    """(number, steps, return, terminated, truncated) of an instance's rows, in order."""
    sql = (
        "select number, steps, total_reward, terminated, truncated from envs_episode "
        "where instance_id = %s order by number"
    )
    if database_url.startswith("sqlite:///"):
        with closing(sqlite3.connect(database_url.removeprefix("sqlite:///"))) as connection:
            rows = connection.execute(sql.replace("%s", "?"), [uuid.UUID(instance_id).hex]).fetchall()
    else:
        with psycopg.connect(database_url) as connection:
            rows = connection.execute(sql, [instance_id]).fetchall()
    return [(number, steps, total, bool(terminated), bool(truncated)) for number, steps, total, terminated, truncated in rows]


def writer_pids(server):
    """The pids of the server's writer processes (its children running write_episodes)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:  # it ended meanwhile
            continue
        parent = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("PPid:"))
        if parent == server.process.pid and b"write_episodes" in command:
            pids.append(int(entry.name))
    return pids


def the_writer(server):
    deadline = time.monotonic() + 30
    while not (pids := writer_pids(server)):
        assert time.monotonic() < deadline, "no writer process 30 s after the server answered"
        time.sleep(0.1)
    assert len(pids) == 1, pids
    return pids[0]


def alive(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            return not any(line.startswith("State:") and "Z" in line.split()[1] for line in status)
    except FileNotFoundError:
        return False


class Agent:
    """Plays CartPole episodes over HTTP and counts them as it sees them."""

    def __init__(self, url):
        self.url, self.session = url, requests.Session()

    def call(self, path, body=None):
        method = "GET" if body is None else "POST"
        answer = self.session.request(method, f"{self.url}{path}", json=body, timeout=60)
        assert answer.status_code in (200, 201), (path, answer.status_code, answer.text)
        return answer.json()

    def create(self, **fields):
        return self.call("/v1/envs/", {"env_id": "CartPole-v1", **fields})["instance_id"]

    def episode(self, instance_id, action=0):
        """One whole episode: its row as the client saw it (number filled in by the caller)."""
        self.call(f"/v1/envs/{instance_id}/reset/", {})
        steps, total = 0, 0.0
        while True:
            body = self.call(f"/v1/envs/{instance_id}/step/", {"action": action})
            steps, total = steps + 1, total + body["reward"]
            if body["terminated"] or body["truncated"]:
                return steps, total, body["terminated"], body["truncated"]


def play_checking_each_row(agent, database_url, rounds):
    """Two CartPoles (the second truncated at 4 steps), an episode each per round: each
    episode's row is read as soon as the answer that ended it is in, and must be there.
    Returns (number, steps, return, terminated, truncated) by instance, as the client saw them."""
    instances = [agent.create(seed=1), agent.create(seed=2, max_episode_steps=4)]
    seen = {instance_id: [] for instance_id in instances}
    for number in range(1, rounds + 1):
        for instance_id in instances:
            seen[instance_id].append((number, *agent.episode(instance_id, action=number % 2)))
            assert episode_rows(database_url, instance_id) == seen[instance_id]
    assert any(row[4] for row in seen[instances[1]])  # truncated ones too
    return seen


def start(tmp_path, database_url, **env):
    directory = tmp_path / "server"
    directory.mkdir()
    return ServerProcess(directory, DATABASE_URL=database_url, **QUIET, **env).start()


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'writer.sqlite3'}"


@pytest.mark.parametrize("database_url", ["sqlite_url", "postgres_url"])
def test_it_writes_each_episode_before_the_answer_that_ended_it(request, tmp_path, database_url):
    url = request.getfixturevalue(database_url)
    server = start(tmp_path, url, GYMAPI_WRITER="process")
    try:
        assert alive(the_writer(server))
        play_checking_each_row(Agent(server.url), url, rounds=8)
    finally:
        server.stop()
    assert server.process.returncode == 0


def test_it_makes_the_writes_of_a_writer_that_died_and_goes_on_with_a_thread(tmp_path, sqlite_url):
    server = start(tmp_path, sqlite_url, GYMAPI_WRITER="process")
    try:
        writer = the_writer(server)
        agent = Agent(server.url)
        instance_id = agent.create(seed=3, max_episode_steps=3)
        seen = [(1, *agent.episode(instance_id)), (2, *agent.episode(instance_id))]

        # The writer stopped, an episode's last step waits for its row...
        os.kill(writer, signal.SIGSTOP)
        agent.call(f"/v1/envs/{instance_id}/reset/", {})
        agent.call(f"/v1/envs/{instance_id}/step/", {"action": 0})
        agent.call(f"/v1/envs/{instance_id}/step/", {"action": 0})
        last = {}
        waiting = threading.Thread(
            target=lambda: last.update(Agent(server.url).call(f"/v1/envs/{instance_id}/step/", {"action": 0}))
        )
        waiting.start()
        waiting.join(1.0)
        assert waiting.is_alive(), "the answer went out before its episode was written"
        assert episode_rows(sqlite_url, instance_id) == seen

        # ...and the writer dies: the write goes to a thread, and the answer out.
        os.kill(writer, signal.SIGKILL)
        waiting.join(30)
        assert not waiting.is_alive()
        assert last["truncated"] is True
        seen.append((3, 3, 3.0, False, True))
        assert episode_rows(sqlite_url, instance_id) == seen

        # From here on the thread writes, and the server answers as before.
        for number in (4, 5):
            seen.append((number, *agent.episode(instance_id)))
        assert episode_rows(sqlite_url, instance_id) == seen
        assert writer_pids(server) == []
    finally:
        server.stop()
    assert server.process.returncode == 0
    log = server.log.name
    assert "episode writer process ended" in Path(log).read_text()


def test_it_leaves_no_writer_behind_when_the_server_stops(tmp_path, sqlite_url):
    server = start(tmp_path, sqlite_url, GYMAPI_WRITER="process")
    writer = the_writer(server)
    agent = Agent(server.url)
    instance_id = agent.create()
    agent.episode(instance_id)
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=60) == 0
    deadline = time.monotonic() + 10
    while alive(writer):
        assert time.monotonic() < deadline, "the writer outlived its server by 10 s"
        time.sleep(0.05)


def test_it_ends_with_a_server_killed_outright(tmp_path, sqlite_url):
    server = start(tmp_path, sqlite_url, GYMAPI_WRITER="process")
    writer = the_writer(server)
    server.process.kill()
    server.process.wait(timeout=30)
    server.stop()
    deadline = time.monotonic() + 10
    while alive(writer):  # its stdin ended with the server
        assert time.monotonic() < deadline, "the writer outlived its killed server by 10 s"
        time.sleep(0.05)


def test_it_writes_in_a_thread_with_gymapi_writer_thread(tmp_path, sqlite_url):
    server = start(tmp_path, sqlite_url, GYMAPI_WRITER="thread")
    try:
        agent = Agent(server.url)
        instance_id = agent.create(seed=4)
        seen = []
        for number in range(1, 4):
            seen.append((number, *agent.episode(instance_id)))
            assert episode_rows(sqlite_url, instance_id) == seen
        assert writer_pids(server) == []
    finally:
        server.stop()


@pytest.mark.asyncio
async def test_it_leaves_the_writes_to_the_thread_when_the_process_cannot_start(monkeypatch, tmp_path, caplog):
    from envs import writer_process
    from envs.writer import Writer

    monkeypatch.setattr(writer_process, "MANAGE_PY", tmp_path / "missing.py")  # the child exits at once
    writer = Writer()
    await writer.start_process()
    assert writer.process is None
    assert "Could not start the episode writer process" in caplog.text


def test_it_refuses_an_unknown_gymapi_writer():
    done = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=BASE_DIR, capture_output=True, text=True,
        env={**os.environ, "GYMAPI_WRITER": "fork"},
    )
    assert done.returncode != 0
    assert "GYMAPI_WRITER must be 'inline', 'process' or 'thread', not 'fork'" in done.stderr


def test_it_inserts_a_replayed_write_once(db):
    instance = EnvInstance.objects.create(env_id="CartPole-v1")
    now = timezone.now()
    write = EpisodeWrite(
        str(instance.id), 1, create=True, seed=None, started_at=now,
        fields={"steps": 9, "total_reward": 9.0, "ended_at": now, "terminated": True},
    )
    write_all([write])
    write_all([write], replay=True)  # made by the writer, then again after it died unanswered
    assert list(Episode.objects.values_list("number", "steps", "terminated")) == [(1, 9, True)]


def test_it_reads_frames_however_the_bytes_are_cut():
    values = [(1, "a"), (2, {"b": [3.5, None]}), (3, b"\x00" * 1000)]
    stream = b"".join(frame(value) for value in values)
    for size in (1, 3, 7, len(stream)):
        frames, read = Frames(), []
        for start in range(0, len(stream), size):
            read += frames.feed(stream[start : start + size])
        assert read == values
        assert frames.buffer == bytearray()


def test_it_runs_with_the_servers_database_settings_and_only_the_app_it_writes_for():
    probe = (
        "import sys, django; django.setup(); from django.conf import settings; "
        "print(settings.DATABASES['default']['NAME'], settings.INSTALLED_APPS, "
        "[name for name in ('gymnasium', 'rest_framework', 'channels', 'daphne') if name in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=BASE_DIR, capture_output=True, text=True, check=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "gymapi.settings_writer",
             "GYMAPI_SERVER_SETTINGS": "gymapi.settings", "DATABASE_URL": "sqlite:////tmp/elsewhere.sqlite3"},
    )
    assert done.stdout.split(" ", 1) == ["/tmp/elsewhere.sqlite3", "['envs.apps.EpisodeWriterConfig'] []\n"]
