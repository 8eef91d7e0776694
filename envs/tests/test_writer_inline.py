"""Episode rows written on the event loop (envs/writer_inline.py), on SQLite files.

The loop makes the write itself and commits it before the answer, or declines
at once, with nothing written, whenever it would have to wait (a lock held
elsewhere) or SQLite refuses the row; the writer thread then makes it. The
loop's connection never checkpoints; every few hundred commits a worker thread
does. The production server writes this way on a SQLite file by default.
"""

import asyncio
import datetime
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from contextlib import closing
from pathlib import Path

import pytest
from django.db import connections
from django.db.utils import ConnectionHandler
from django.utils import timezone

from envs import writer_inline
from envs.models import Episode
from envs.recording import EpisodeWrite, sqlite_write_lock
from envs.tests.test_writer_process import Agent, episode_rows, play_checking_each_row, start, writer_pids
from envs.writer_inline import InlineWriter, sqlite_row

BASE_DIR = Path(__file__).resolve().parent.parent.parent
INSTANCE_ID = "6f1c1b6e-2d1a-4c53-9a57-0c6d1f3c2b10"
CREATE_INSTANCE = f"""
from envs.models import EnvInstance
EnvInstance.objects.create(id="{INSTANCE_ID}", env_id="CartPole-v1")
"""


@pytest.fixture(scope="module")
def migrated(tmp_path_factory):
    """A migrated SQLite file holding one instance, INSTANCE_ID (each test takes a copy)."""
    path = tmp_path_factory.mktemp("inline") / "migrated.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{path}"}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=BASE_DIR, env=env, check=True)
    subprocess.run([sys.executable, "manage.py", "shell", "-c", CREATE_INSTANCE], cwd=BASE_DIR, env=env, check=True)
    return path


@pytest.fixture
def database(migrated, tmp_path):
    path = tmp_path / "episodes.sqlite3"
    shutil.copyfile(migrated, path)
    return path


@pytest.fixture
def sqlite_connection(database):
    """A Django connection to the SQLite copy, whichever database the suite runs on: the
    writer takes its SQL and its adaptation of values from it."""
    handler = ConnectionHandler({"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(database)}})
    yield handler["default"]
    handler.close_all()


@pytest.fixture
def writer(sqlite_connection, database):
    writer = InlineWriter(sqlite_connection)
    yield writer
    writer.close()


def an_episode(number, *, create=True, ended=True, instance_id=INSTANCE_ID, steps=12, seed=None):
    started = timezone.now() - datetime.timedelta(seconds=1)
    fields = {"steps": steps, "total_reward": float(steps)}
    if ended:
        fields.update(ended_at=timezone.now(), terminated=True, truncated=False)
    return EpisodeWrite(instance_id, number, create=create, seed=seed, started_at=started, fields=fields)


def rows(database):
    """(number, steps, return, terminated, ended) of the database's episode rows, by another connection."""
    with closing(sqlite3.connect(database)) as connection:
        found = connection.execute(
            "select number, steps, total_reward, terminated, ended_at is not null from envs_episode order by number"
        ).fetchall()
    return [(number, steps, total, bool(terminated), bool(ended)) for number, steps, total, terminated, ended in found]


def test_it_commits_the_row_before_it_returns(writer, database):
    assert writer.write(an_episode(1, steps=12))
    assert writer.write(an_episode(2, steps=30))
    assert rows(database) == [(1, 12, 12.0, True, True), (2, 30, 30.0, True, True)]


def test_its_rows_hold_the_values_django_would_write(sqlite_connection):
    field = Episode._meta.get_field("instance")
    for write in (an_episode(1), an_episode(2, ended=False, seed=2**40), an_episode(3, seed=0)):
        assert sqlite_row(write) == write.row(sqlite_connection, field)


def test_it_updates_the_row_of_a_running_episode(writer, database):
    assert writer.write(an_episode(1, ended=False, steps=500))  # a periodic write of a long episode
    assert rows(database) == [(1, 500, 500.0, False, False)]
    assert writer.write(an_episode(1, create=False, steps=731))  # its end
    assert rows(database) == [(1, 731, 731.0, True, True)]


def test_it_declines_at_once_while_another_connection_holds_the_write_lock(writer, database):
    with closing(sqlite3.connect(database, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        assert writer.write(an_episode(1)) is False
        assert time.monotonic() - started < 0.5  # SQLite's lock is not waited for on the loop
        other.execute("ROLLBACK")
    assert rows(database) == []
    assert writer.write(an_episode(1))
    assert rows(database) == [(1, 12, 12.0, True, True)]


def test_it_declines_while_a_thread_of_this_process_writes(writer, database):
    held, release = threading.Event(), threading.Event()

    def thread_write():
        with sqlite_write_lock():
            held.set()
            release.wait(10)

    thread = threading.Thread(target=thread_write)
    thread.start()
    held.wait(10)
    try:
        assert writer.write(an_episode(1)) is False
    finally:
        release.set()
        thread.join()
    assert rows(database) == []


def test_it_declines_a_row_sqlite_refuses_and_says_why(writer, database, caplog):
    caplog.set_level(logging.WARNING, logger="envs.writer_inline")
    unknown = an_episode(1, instance_id=str(uuid.uuid4()))  # its instance is not in the database
    assert writer.write(unknown) is False
    assert "FOREIGN KEY constraint failed" in caplog.text
    assert rows(database) == []


def test_it_declines_when_its_connection_cannot_be_opened_and_opens_it_next_time(writer, database, monkeypatch):
    opened = writer._open

    def busy_once(timeout, **options):
        monkeypatch.setattr(writer, "_open", opened)
        raise sqlite3.OperationalError("database is locked")  # the first read met another connection's commit

    monkeypatch.setattr(writer, "_open", busy_once)
    assert writer.write(an_episode(1)) is False
    assert rows(database) == []
    assert writer.write(an_episode(1))
    assert rows(database) == [(1, 12, 12.0, True, True)]


def test_it_declines_a_database_it_cannot_open_and_says_why(sqlite_connection, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="envs.writer_inline")
    writer = InlineWriter(sqlite_connection, path=tmp_path / "no such folder" / "episodes.sqlite3")
    assert writer.write(an_episode(1)) is False
    assert "unable to open database file" in caplog.text


def test_it_leaves_checkpoints_to_a_worker_thread(monkeypatch, writer, database):
    # Nobody else writes here: the database file grows only when the WAL is copied back into it.
    size = database.stat().st_size
    monkeypatch.setattr(writer_inline, "CHECKPOINT_EVERY", 10**6)
    for number in range(1, 101):
        assert writer.write(an_episode(number))
    # The loop's connection never checkpoints, not even past SQLite's 1,000 pages.
    assert writer._connection().execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
    assert database.stat().st_size == size

    monkeypatch.setattr(writer_inline, "CHECKPOINT_EVERY", 50)
    loop_thread = []

    async def writes():
        loop_thread.append(threading.get_ident())
        for number in range(101, 201):
            assert writer.write(an_episode(number))
        deadline = time.monotonic() + 10
        while writer.checkpointing:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)

    checkpoints = []
    checkpoint = writer._checkpoint
    monkeypatch.setattr(writer, "_checkpoint", lambda: checkpoints.append(threading.get_ident()) or checkpoint())
    asyncio.run(writes())
    assert checkpoints and loop_thread[0] not in checkpoints
    assert database.stat().st_size > size
    assert len(rows(database)) == 200


def test_there_is_none_for_the_suites_database(db):
    # An in-memory SQLite database, which the loop's own connection would not see, or
    # PostgreSQL (`make test` runs the suite on both).
    connection = connections["default"]
    assert connection.vendor == "postgresql" or connection.is_in_memory_db()
    assert InlineWriter.for_episodes() is None


def test_it_writes_to_the_file_of_a_sqlite_connection(sqlite_connection, database):
    assert InlineWriter(sqlite_connection).path == str(database)


# --- in the production server -----------------------------------------------------------------


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'inline.sqlite3'}"


def test_the_server_writes_on_the_loop_on_sqlite_each_row_before_its_answer(tmp_path, sqlite_url):
    server = start(tmp_path, sqlite_url)  # GYMAPI_WRITER unset: inline on a SQLite file
    try:
        play_checking_each_row(Agent(server.url), sqlite_url, rounds=6)
        assert writer_pids(server) == []  # no writer process beside it
    finally:
        server.stop()
    assert server.process.returncode == 0


def test_an_episode_end_waits_for_a_database_locked_elsewhere(tmp_path, sqlite_url):
    server = start(tmp_path, sqlite_url)
    try:
        agent = Agent(server.url)
        instance_id, other_id = agent.create(seed=3, max_episode_steps=3), agent.create()
        seen = [(1, *agent.episode(instance_id))]
        agent.call(f"/v1/envs/{instance_id}/reset/", {})
        agent.call(f"/v1/envs/{instance_id}/step/", {"action": 0})
        agent.call(f"/v1/envs/{instance_id}/step/", {"action": 0})

        last = {}
        with closing(sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")  # another program writing, for a while
            waiting = threading.Thread(
                target=lambda: last.update(Agent(server.url).call(f"/v1/envs/{instance_id}/step/", {"action": 0}))
            )
            waiting.start()
            waiting.join(1.0)
            assert waiting.is_alive(), "the answer went out before its episode was written"
            # Meanwhile the loop answers everyone else.
            assert agent.call(f"/v1/envs/{other_id}/reset/", {})["observation"]
            assert agent.call(f"/v1/envs/{other_id}/step/", {"action": 1})["observation"]
            other.execute("COMMIT")
        waiting.join(30)
        assert not waiting.is_alive()
        assert last["truncated"] is True
        assert episode_rows(sqlite_url, instance_id) == [*seen, (2, 3, 3.0, False, True)]
    finally:
        server.stop()
    assert server.process.returncode == 0


def test_it_refuses_gymapi_writer_inline_on_a_database_it_cannot_write_from_the_loop():
    # An in-memory SQLite database: another connection than Django's would not see it.
    done = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=BASE_DIR, capture_output=True, text=True,
        env={**os.environ, "GYMAPI_WRITER": "inline", "DATABASE_URL": "sqlite://:memory:"},
    )
    assert done.returncode != 0
    assert "GYMAPI_WRITER=inline writes on a SQLite database file or PostgreSQL only" in done.stderr
