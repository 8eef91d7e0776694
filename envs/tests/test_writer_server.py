"""What the production server writes (gymapi/serve.py), on SQLite and on PostgreSQL (when one
answers; always in CI): each episode's row before the answer that ended it, whoever writes
it (``GYMAPI_WRITER``), through a lock held elsewhere, and through a database outage, its
rows kept and written when the database is back, the answers never 500."""

import sqlite3
import threading
import time
from contextlib import closing

import psycopg
import pytest

from envs.recording.sinks import APPLICATION_NAME

from .servers import Agent, episode_rows, play_checking_each_row, start


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'writer.sqlite3'}"


def loop_sessions(database_url):
    """The pids of the writer's sessions on the database (pg_stat_activity)."""
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "select pid from pg_stat_activity where datname = current_database() and application_name = %s",
            [APPLICATION_NAME],
        ).fetchall()
    return [pid for (pid,) in rows]


@pytest.mark.parametrize(
    "database_url, writer", [("sqlite_url", "loop"), ("postgres_url", "loop"), ("sqlite_url", "thread")]
)
def test_it_writes_each_episode_before_the_answer_that_ended_it(request, tmp_path, database_url, writer):
    url = request.getfixturevalue(database_url)
    server = start(tmp_path, url, GYMAPI_WRITER=writer)
    try:
        play_checking_each_row(Agent(server.url), url, rounds=6)
    finally:
        server.stop()
    assert server.process.returncode == 0


def test_an_episode_end_waits_for_a_database_locked_elsewhere(tmp_path, sqlite_url):
    server = start(tmp_path, sqlite_url)
    try:
        agent = Agent(server.url)
        instance_id, other_id = agent.create(seed=3, max_episode_steps=3), agent.create()
        agent.call(f"/v1/envs/{other_id}/reset/", {})  # an instance's first reset writes a row too (README, Restarts)
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
            # Meanwhile the loop answers everyone else's steps.
            assert agent.call(f"/v1/envs/{other_id}/step/", {"action": 1})["observation"]
            assert agent.call(f"/v1/envs/{other_id}/step/", {"action": 1})["observation"]
            other.execute("COMMIT")
        waiting.join(30)
        assert not waiting.is_alive()
        assert last["truncated"] is True
        assert episode_rows(sqlite_url, instance_id) == [*seen, (2, 3, 3.0, False, True)]
    finally:
        server.stop()
    assert server.process.returncode == 0


def test_a_broken_postgres_connection_costs_no_answer_and_no_row(tmp_path, postgres_url):
    server = start(tmp_path, postgres_url)
    try:
        agent = Agent(server.url)
        instance_id = agent.create(seed=4)
        seen = [(1, *agent.episode(instance_id))]
        [pid] = loop_sessions(postgres_url)
        with psycopg.connect(postgres_url) as admin:
            admin.execute("select pg_terminate_backend(%s)", [pid])
        for number in range(2, 6):  # the first row finds the connection broken: kept, then written
            seen.append((number, *agent.episode(instance_id, action=number % 2)))
        deadline = time.monotonic() + 15
        while episode_rows(postgres_url, instance_id) != seen:
            assert time.monotonic() < deadline, episode_rows(postgres_url, instance_id)
            time.sleep(0.2)
        assert loop_sessions(postgres_url) not in ([], [pid])  # connected again
    finally:
        server.stop()
    assert server.process.returncode == 0


def test_rows_wait_out_a_postgres_outage_and_are_written_when_it_is_back(tmp_path, postgres_url):
    server = start(tmp_path, postgres_url)
    name = postgres_url.rsplit("/", 1)[1]
    admin_url = postgres_url.rsplit("/", 1)[0] + "/postgres"
    try:
        agent = Agent(server.url)
        instances = [agent.create(seed=5), agent.create(seed=6, max_episode_steps=5)]
        seen = {instance_id: [(1, *agent.episode(instance_id))] for instance_id in instances}
        with psycopg.connect(admin_url, autocommit=True) as admin:
            # The database goes away: no connection taken, every session cut.
            admin.execute(f'alter database "{name}" with allow_connections false')
            admin.execute("select pg_terminate_backend(pid) from pg_stat_activity where datname = %s", [name])
            try:
                for number in range(2, 5):  # every answer 200 (Agent checks), the rows kept meanwhile
                    for instance_id in instances:
                        seen[instance_id].append((number, *agent.episode(instance_id, action=number % 2)))
            finally:
                admin.execute(f'alter database "{name}" with allow_connections true')
        deadline = time.monotonic() + 20
        while any(episode_rows(postgres_url, instance_id) != seen[instance_id] for instance_id in instances):
            assert time.monotonic() < deadline, "the kept rows were not written once the database was back"
            time.sleep(0.2)
    finally:
        server.stop()
    assert server.process.returncode == 0
    log = server.database.with_suffix(".log").read_text()
    assert "The database cannot be reached" in log and "The database is back" in log
