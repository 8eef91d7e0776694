"""Real servers for the tests of what is written, and agents that keep their own account."""

import sqlite3
import uuid
from contextlib import closing

import psycopg
import requests

from gymapi.testing.server import ServerProcess

# No periodic writes of running episodes: every row is an episode's end.
QUIET = {"GYMAPI_FLUSH_SECONDS": "3600", "LOG_LEVEL": "WARNING"}


def start(tmp_path, database_url, **env):
    """The production server on ``database_url``, quiet (no periodic writes)."""
    directory = tmp_path / "server"
    directory.mkdir()
    return ServerProcess(directory, DATABASE_URL=database_url, **QUIET, **env).start()


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
