"""Episode rows written from the event loop on PostgreSQL (envs/writer_postgres.py).

The production server's default there: the loop sends each row on an
asynchronous connection of its own and answers the episode's end once it is
committed, serving everyone else meanwhile; no writer process. A connection
that breaks hands its rows to the writer thread, with nothing lost or written
twice, until a new one is made. Against the real server (gymapi/serve.py), on
PostgreSQL when one answers (always in CI).
"""

import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import dj_database_url
import psycopg
import pytest
from django.db.utils import ConnectionHandler
from django.utils import timezone

from envs.recording import EpisodeWrite
from envs.tests.test_writer_process import BASE_DIR, Agent, episode_rows, play_checking_each_row, start, writer_pids
from envs.writer_postgres import APPLICATION_NAME, RECONNECT_SECONDS, LoopPostgresWriter


def loop_sessions(database_url):
    """The pids of the loop's sessions on the database (pg_stat_activity)."""
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "select pid from pg_stat_activity where datname = current_database() and application_name = %s",
            [APPLICATION_NAME],
        ).fetchall()
    return [pid for (pid,) in rows]


def test_the_server_writes_from_the_loop_each_row_before_its_answer(tmp_path, postgres_url):
    server = start(tmp_path, postgres_url)  # GYMAPI_WRITER unset: from the loop on PostgreSQL
    try:
        assert len(loop_sessions(postgres_url)) == 1
        play_checking_each_row(Agent(server.url), postgres_url, rounds=6)
        assert writer_pids(server) == []  # no writer process beside it
    finally:
        server.stop()
    assert server.process.returncode == 0
    assert loop_sessions(postgres_url) == []  # closed with the server


def test_a_broken_connection_hands_its_rows_to_a_thread_and_is_made_again(tmp_path, postgres_url):
    server = start(tmp_path, postgres_url)
    try:
        agent = Agent(server.url)
        instance_id = agent.create(seed=4)
        seen = [(1, *agent.episode(instance_id))]
        [pid] = loop_sessions(postgres_url)
        with psycopg.connect(postgres_url) as admin:
            admin.execute("select pg_terminate_backend(%s)", [pid])
        # The first row finds the connection broken, the next ones no connection: all answered, all written.
        for number in range(2, 5):
            seen.append((number, *agent.episode(instance_id, action=number % 2)))
            assert episode_rows(postgres_url, instance_id) == seen

        time.sleep(RECONNECT_SECONDS + 0.5)
        seen.append((5, *agent.episode(instance_id)))  # asks for a new connection
        deadline = time.monotonic() + 10
        while not (sessions := loop_sessions(postgres_url)):
            assert time.monotonic() < deadline, "the loop did not connect again"
            time.sleep(0.1)
        assert sessions != [pid]
        seen.append((6, *agent.episode(instance_id, action=1)))
        assert episode_rows(postgres_url, instance_id) == seen
    finally:
        server.stop()
    assert server.process.returncode == 0
    log = Path(server.log.name).read_text()
    assert "The event loop's PostgreSQL connection failed" in log  # said once, as an error
    assert log.count("connection failed") == 1


# --- the writer itself, on a database of its own ---------------------------------------------


class Thread:
    """Stands for the writer thread: takes what is handed on, makes nothing."""

    def __init__(self):
        self.handed = []

    def write_in_thread(self, function, loop):
        self.handed.append(function)
        made = loop.create_future()
        made.set_result(None)
        return made


@pytest.fixture
def migrated_postgres(postgres_url):
    """A migrated throwaway database holding one instance: (url, Django connection, instance id)."""
    env = {**os.environ, "DATABASE_URL": postgres_url}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=BASE_DIR, env=env, check=True)
    instance_id = str(uuid.uuid4())
    with psycopg.connect(postgres_url) as connection:
        connection.execute(
            "insert into envs_envinstance (id, env_id, render_mode, kwargs, max_episode_steps, status, created_at, "
            "num_envs, process, status_reason) values (%s, 'CartPole-v1', '', '{}', 500, 'active', now(), 1, '', '')",
            [instance_id],
        )
    handler = ConnectionHandler({"default": dj_database_url.parse(postgres_url)})
    yield postgres_url, handler["default"], instance_id
    handler.close_all()


def an_episode(instance_id, number, *, create=True, ended=True):
    fields = {"steps": 10 + number, "total_reward": float(10 + number)}
    if ended:
        fields.update(ended_at=timezone.now(), terminated=True, truncated=False)
    return EpisodeWrite(instance_id, number, create=create, seed=None, started_at=timezone.now(), fields=fields)


def test_it_writes_a_batch_in_one_go_and_hands_a_refused_one_to_the_thread_whole(migrated_postgres):
    url, django_connection, instance_id = migrated_postgres
    thread = Thread()

    async def scenario():
        writer = LoopPostgresWriter(django_connection, fallback=thread)
        await writer.start()
        try:
            # Queued in one turn of the loop: sent together.
            await asyncio.gather(*(writer.write(an_episode(instance_id, number, ended=number != 3)) for number in (1, 2, 3)))
            await writer.write(an_episode(instance_id, 3, create=False))  # the end of a long one: an update
            unknown = str(uuid.uuid4())  # no such instance: PostgreSQL refuses the batch, both rows
            await asyncio.gather(writer.write(an_episode(instance_id, 4)), writer.write(an_episode(unknown, 1)))
            assert writer.connection is not None  # a refused batch does not break the connection
            await writer.write(an_episode(instance_id, 5))
        finally:
            await writer.stop()

    asyncio.run(scenario())
    assert [(row[0], row[1], row[4]) for row in episode_rows(url, instance_id)] == [
        (1, 11, False), (2, 12, False), (3, 13, False), (5, 15, False)
    ]
    with psycopg.connect(url) as connection:
        ended = connection.execute("select number, ended_at is not null from envs_episode order by number").fetchall()
    assert ended == [(1, True), (2, True), (3, True), (5, True)]
    # The refused batch went to the thread whole, each row inserted only if it is not there.
    assert [(call.args[0][0].number, call.keywords) for call in thread.handed] == [(4, {"replay": True}), (1, {"replay": True})]
