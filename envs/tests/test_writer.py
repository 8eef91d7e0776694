"""The episode writer (envs/recording/writer.py) and its sinks (envs/recording/sinks.py),
in this process, on databases of their own: each row written as one upsert, batches in
one statement, a lock held elsewhere waited out without blocking the loop, rows kept
while the database cannot be reached and written when it is back."""

import asyncio
import datetime
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from contextlib import closing, contextmanager
from pathlib import Path

import dj_database_url
import psycopg
import pytest
from django.db import IntegrityError, OperationalError
from django.db.backends.utils import CursorWrapper
from django.db.utils import ConnectionHandler

from envs.models import EnvInstance, Episode
from envs.recording import writer as writing
from envs.recording.episodes import EpisodeRow
from envs.recording.sinks import Busy, DjangoSink, Outage, PostgresSink, SQLiteSink, loop_sink
from envs.recording.writer import Writer, latest

BASE_DIR = Path(__file__).resolve().parent.parent.parent
INSTANCE_ID = "6f1c1b6e-2d1a-4c53-9a57-0c6d1f3c2b10"
CREATE_INSTANCE = f"""
from envs.models import EnvInstance
EnvInstance.objects.create(id="{INSTANCE_ID}", env_id="CartPole-v1")
"""


def migrate(database_url):
    env = {**os.environ, "DATABASE_URL": database_url}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=BASE_DIR, env=env, check=True)
    subprocess.run([sys.executable, "manage.py", "shell", "-c", CREATE_INSTANCE], cwd=BASE_DIR, env=env, check=True)


@pytest.fixture(scope="module")
def migrated_sqlite(tmp_path_factory):
    """A migrated SQLite file holding one instance, INSTANCE_ID (each test takes a copy)."""
    path = tmp_path_factory.mktemp("writer") / "migrated.sqlite3"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_db(migrated_sqlite, tmp_path):
    """(path, a Django connection to it): the sink takes its SQL from the connection."""
    path = tmp_path / "episodes.sqlite3"
    shutil.copyfile(migrated_sqlite, path)
    handler = ConnectionHandler({"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path)}})
    yield path, handler["default"]
    handler.close_all()


@pytest.fixture
def postgres_db(postgres_url):
    migrate(postgres_url)
    handler = ConnectionHandler({"default": dj_database_url.parse(postgres_url)})
    yield postgres_url, handler["default"]
    handler.close_all()


NOW = time.time()


def row(number, *, steps=12, ended=True, instance_id=INSTANCE_ID, sub_env=0, seed=None):
    return EpisodeRow(
        instance_id, sub_env, number, seed, NOW - 1.5, NOW if ended else None, steps, steps * 0.5, ended, False
    )


def read(where):
    """(number, steps, return, terminated, ended) of every row, read by another connection."""
    sql = "select number, steps, total_reward, terminated, ended_at is not null from envs_episode order by number"
    if isinstance(where, Path):
        with closing(sqlite3.connect(where)) as connection:
            found = connection.execute(sql).fetchall()
    else:
        with psycopg.connect(where) as connection:
            found = connection.execute(sql).fetchall()
    return [(number, steps, total, bool(terminated), bool(ended)) for number, steps, total, terminated, ended in found]


def on_this_loop(writer, sink):
    """Make ``writer`` write from the running loop through ``sink``, as the server's start-up does."""
    writer.loop, writer.mode, writer.sink = asyncio.get_running_loop(), "loop", sink


@contextmanager
def write_lock_held(path):
    """Another program's write transaction on the SQLite file at ``path`` (yielded: commit or roll it back)."""
    with closing(sqlite3.connect(path, isolation_level=None, check_same_thread=False)) as other:
        other.execute("BEGIN IMMEDIATE")
        yield other


@pytest.fixture(params=["sqlite", "postgres"])
def sink(request):
    """(the loop sink of a database of its own, where to read it)."""
    if request.param == "sqlite":
        path, connection = request.getfixturevalue("sqlite_db")
        made, where = SQLiteSink(connection), path
    else:
        url, connection = request.getfixturevalue("postgres_db")
        made, where = PostgresSink(connection), url
    yield made, where
    asyncio.run(made.close())


def test_a_sink_writes_a_batch_and_each_row_once(sink):
    made, where = sink
    asyncio.run(made.write([row(1), row(2, steps=30, seed=7)]))
    asyncio.run(made.write([row(2, steps=30, seed=7)]))  # the same row again: made once
    assert read(where) == [(1, 12, 6.0, True, True), (2, 30, 15.0, True, True)]


def test_a_late_or_older_row_never_undoes_a_newer_one(sink):
    made, where = sink
    asyncio.run(made.write([row(1, steps=5, ended=False)]))  # a running episode's periodic write
    asyncio.run(made.write([row(1, steps=9, ended=False)]))
    asyncio.run(made.write([row(1, steps=7, ended=False)]))  # an older one, arriving late
    assert read(where) == [(1, 9, 4.5, False, False)]
    asyncio.run(made.write([row(1, steps=11)]))  # its end
    asyncio.run(made.write([row(1, steps=10, ended=False)]))  # a periodic write after it
    assert read(where) == [(1, 11, 5.5, True, True)]


def replay_columns(where):
    """(actions, options, generator, unreplayable) of row 1, read by another connection."""
    sql = "select actions, options, generator, unreplayable from envs_episode where number = 1"
    if isinstance(where, Path):
        with closing(sqlite3.connect(where)) as connection:
            actions, options, generator, note = connection.execute(sql).fetchone()
        return bytes(actions), json.loads(options), json.loads(generator), note
    with psycopg.connect(where) as connection:
        actions, options, generator, note = connection.execute(sql).fetchone()
    return bytes(actions), options, generator, note


def test_a_sink_writes_what_replays_an_episode_and_a_later_write_its_actions_so_far(sink):
    made, where = sink
    generator = {"bit_generator": "PCG64", "state": {"state": 2**127 + 1, "inc": 2**100 + 3}, "has_uint32": 0,
                 "uinteger": 0}
    first = row(1, steps=2, ended=False)._replace(options={"low": -0.1}, generator=generator, actions=b"\x01\x02")
    asyncio.run(made.write([first]))
    assert replay_columns(where) == (b"\x01\x02", {"low": -0.1}, generator, "")
    asyncio.run(made.write([first._replace(steps=3, actions=b"\x01\x02\x03")]))  # the next periodic write
    asyncio.run(made.write([first._replace(steps=1, actions=b"\x01")]))  # an older one, late: changes nothing
    assert replay_columns(where)[0] == b"\x01\x02\x03"
    asyncio.run(made.write([first._replace(steps=4, ended=NOW, terminated=True, actions=b"\x01\x02\x03\x04")]))
    asyncio.run(made.write([first._replace(steps=3, actions=b"\x01\x02\x03")]))  # after its end: nothing
    assert replay_columns(where)[0] == b"\x01\x02\x03\x04"


def test_the_sqlite_sink_stores_what_django_would_store(sqlite_db):
    path, connection = sqlite_db
    asyncio.run(SQLiteSink(connection).write([row(1, seed=2**62)]))
    with closing(sqlite3.connect(path)) as other:
        stored = other.execute("select instance_id, seed, started_at, ended_at from envs_episode").fetchone()
    adapt = connection.ops.adapt_datetimefield_value
    moment = lambda seconds: datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)  # noqa: E731
    instance = Episode._meta.get_field("instance").get_db_prep_save(INSTANCE_ID, connection)
    assert stored == (instance, 2**62, adapt(moment(NOW - 1.5)), adapt(moment(NOW)))


def test_the_postgres_sink_commits_synchronously_unless_told(postgres_db, settings):
    url, connection = postgres_db

    async def commit_setting():
        made = PostgresSink(connection)
        try:
            await made.write([row(1)])
            return (await (await made.connection.execute("show synchronous_commit")).fetchone())[0]
        finally:
            await made.close()

    assert asyncio.run(commit_setting()) == "on"
    settings.GYMAPI_ASYNC_COMMIT = True
    assert asyncio.run(commit_setting()) == "off"


def test_the_sqlite_sink_never_waits_for_a_lock_held_elsewhere(sqlite_db):
    path, connection = sqlite_db
    with write_lock_held(path) as other:
        sink = SQLiteSink(connection)
        with pytest.raises(Busy):
            asyncio.run(sink.write([row(1)]))
        # Declined at once: its connection has no busy timeout, so SQLite never waits (on the loop) for the lock.
        assert sink.connection.execute("PRAGMA busy_timeout").fetchone() == (0,)
        other.execute("ROLLBACK")


def test_the_writer_waits_out_a_lock_held_elsewhere_and_serves_the_loop_meanwhile(sqlite_db):
    path, connection = sqlite_db
    writer = Writer()

    async def scenario():
        on_this_loop(writer, SQLiteSink(connection))
        with write_lock_held(path) as other:
            waiting = asyncio.ensure_future(writer.write([row(1)]))
            ticks = 0
            for _ in range(20):  # the loop goes on while the row waits for the lock
                await asyncio.sleep(0.01)
                ticks += 1
            assert not waiting.done() and ticks == 20
            other.execute("COMMIT")
            await asyncio.wait_for(waiting, 10)
        await writer.stop()

    asyncio.run(scenario())
    assert read(path) == [(1, 12, 6.0, True, True)]


def test_an_idle_writer_on_sqlite_writes_an_answers_rows_in_the_answers_own_task(sqlite_db):
    path, connection = sqlite_db
    writer = Writer()
    made = []

    async def scenario():
        loop = asyncio.get_running_loop()
        on_this_loop(writer, SQLiteSink(connection))
        create_task = loop.create_task
        loop.create_task = lambda *args, **kwargs: made.append(args) or create_task(*args, **kwargs)
        await writer.write([row(1)])
        assert read(path) == [(1, 12, 6.0, True, True)]  # committed when write returns
        assert made == [] and writer.draining is None  # no task of the writer's, nothing left queued
        del loop.create_task
        await writer.stop()

    asyncio.run(scenario())


def test_rows_written_while_a_batch_waits_go_in_the_next_batch_in_order(sqlite_db):
    path, connection = sqlite_db
    writer = Writer()

    async def scenario():
        on_this_loop(writer, SQLiteSink(connection))
        with write_lock_held(path) as other:
            first = asyncio.ensure_future(writer.write([row(1, steps=3, ended=False)]))
            await asyncio.sleep(0.02)
            later = asyncio.ensure_future(writer.write([row(1, steps=5, ended=False), row(2)]))
            await asyncio.sleep(0.02)
            assert not first.done() and not later.done()  # the later rows queue behind, not past, the first
            other.execute("COMMIT")
            await asyncio.wait_for(asyncio.gather(first, later), 10)
        await writer.stop()

    asyncio.run(scenario())
    assert read(path) == [(1, 5, 2.5, False, False), (2, 12, 6.0, True, True)]


class FlakySink:
    """A sink whose database is down (``Outage``) until ``up`` is set; records what it wrote."""

    never_waits = False

    def __init__(self, refuse=()):
        self.up = False
        self.batches = []
        self.refuse = set(refuse)

    async def write(self, rows):
        if any(row.number in self.refuse for row in rows):
            raise IntegrityError("refused")
        if not self.up:
            raise Outage("connection refused")
        self.batches.append([row.number for row in rows])

    async def close(self):
        pass


def test_rows_wait_out_an_outage_and_are_written_in_order_when_the_database_is_back(settings, monkeypatch):
    monkeypatch.setattr(writing, "RETRY_SECONDS", 0.05)
    settings.GYMAPI_WRITER_BACKLOG = 3
    writer, sink = Writer(), FlakySink()

    async def scenario():
        on_this_loop(writer, sink)
        await asyncio.wait_for(writer.write([row(1)]), 1)  # answered: the row is kept
        await asyncio.wait_for(writer.write([row(2), row(3)]), 1)
        assert writer.refusing and [r.number for r in writer.backlog] == [1, 2, 3]
        sink.up = True
        for _ in range(100):
            await asyncio.sleep(0.05)
            if not writer.backlog:
                break
        assert not writer.refusing
        await writer.write([row(4)])
        await writer.stop()

    asyncio.run(scenario())
    assert [number for batch in sink.batches for number in batch] == [1, 2, 3, 4]


def test_a_refused_row_fails_the_answers_that_wait_for_it_and_no_other():
    writer, sink = Writer(), FlakySink(refuse={2})
    sink.up = True

    async def scenario():
        on_this_loop(writer, sink)
        await writer.write([row(1)])
        with pytest.raises(IntegrityError):
            await writer.write([row(2)])
        await writer.write([row(3)])
        await writer.stop()

    asyncio.run(scenario())
    assert sink.batches == [[1], [3]]


def test_a_refused_row_queued_with_others_fails_its_own_answer_only():
    writer, sink = Writer(), FlakySink(refuse={2})
    sink.up = True

    async def scenario():
        on_this_loop(writer, sink)
        await writer.write([row(1)])  # the first batch goes alone; the next three queue behind it
        return await asyncio.gather(
            writer.write([row(3)]), writer.write([row(2)]), writer.write([row(4)]), return_exceptions=True
        )

    answers = asyncio.run(scenario())
    assert [type(answer) for answer in answers] == [type(None), IntegrityError, type(None)]
    assert sorted(number for batch in sink.batches for number in batch) == [1, 3, 4]


def test_rows_queued_together_go_in_one_statement_the_last_of_each_episode_only():
    writer, sink = Writer(), FlakySink()
    sink.up = True

    async def scenario():
        on_this_loop(writer, sink)
        await writer.write([row(1)])  # the first batch goes alone; the next three queue behind it
        await asyncio.gather(writer.write([row(2, ended=False)]), writer.write([row(3)]), writer.write([row(2)]))
        await writer.stop()

    asyncio.run(scenario())
    assert sink.batches[0] == [1] and sorted(sink.batches[1]) == [2, 3] and len(sink.batches) == 2


def test_latest_keeps_the_last_row_of_each_episode_in_order():
    rows = [row(1, ended=False), row(2), row(1), row(1, sub_env=1)]
    assert latest(rows) == [row(2), row(1), row(1, sub_env=1)]


def test_a_thread_with_no_writer_running_writes_its_rows_itself(db):
    instance = EnvInstance.objects.create(env_id="CartPole-v1")
    Writer().write_blocking([row(1, instance_id=str(instance.id))])
    assert Episode.objects.get(instance=instance).steps == 12


def test_the_django_sink_says_outage_when_the_database_cannot_be_reached(db, monkeypatch):
    instance = EnvInstance.objects.create(env_id="CartPole-v1")

    def unreachable(*args):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(CursorWrapper, "executemany", unreachable)
    with pytest.raises(Outage):
        DjangoSink().write([row(1, instance_id=str(instance.id))])


def test_the_loop_sink_is_the_databases_own(db):
    from django.db import connection

    if connection.vendor == "postgresql":
        assert isinstance(loop_sink(), PostgresSink)
    else:  # the suite's SQLite database lives in memory, where no other connection would see it
        assert loop_sink() is None


def test_it_refuses_gymapi_writer_loop_on_a_database_it_cannot_write_from_the_loop():
    done = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=BASE_DIR, capture_output=True, text=True,
        env={**os.environ, "GYMAPI_WRITER": "loop", "DATABASE_URL": "sqlite://:memory:"},
    )
    assert done.returncode != 0
    assert "GYMAPI_WRITER=loop writes on a SQLite database file or PostgreSQL only" in done.stderr
    done = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=BASE_DIR, capture_output=True, text=True,
        env={**os.environ, "GYMAPI_WRITER": "process"},
    )
    assert "GYMAPI_WRITER must be 'loop' or 'thread', not 'process'" in done.stderr


def test_the_postgres_sink_writes_more_rows_than_one_statement_takes(postgres_db):
    url, connection = postgres_db
    made = PostgresSink(connection)
    rows = [row(number, steps=number) for number in range(1, 7001)]  # 70,000 parameters: past PostgreSQL's 65,535
    asyncio.run(made.write(rows))
    asyncio.run(made.close())
    assert len(read(url)) == 7000
