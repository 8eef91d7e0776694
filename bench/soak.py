"""`make soak`: the production server under a steady crowd of agents for a few minutes.

    python -m bench.soak                  # 32 clients for 3 minutes
    SOAK_SECONDS=10 python -m bench.soak  # the quick run the suite makes (bench/tests/test_soak_quick.py)

It starts the server itself (bench/run.py's Server, on a fresh SQLite database,
loopback only), then ``SOAK_CLIENTS`` threads each loop until ``SOAK_SECONDS``
are up: create a CartPole, play ``EPISODES_PER_INSTANCE`` episodes to their end
(random actions), close it. A client whose time is up finishes its episode and
closes its instance; nothing runs past ``SOAK_SECONDS`` + one episode.

It prints the requests made, the errors (any answer but the expected one, or
no answer: the target is 0), the server's RSS after a warm-up
(``SOAK_WARMUP`` seconds, a fifth of the run by default, at most 30) and at
the end (target: flat within 10%), and a consistency check once the server has
stopped (SIGTERM, its clean shutdown): every instance closed, and the episodes
recorded in the database are exactly the episodes the clients saw finish, with
the same steps, return and outcome. It exits 1 when there were errors or the
check failed.
"""

import http.client
import json
import os
import random
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from contextlib import closing
from pathlib import Path

from bench.run import HOST, Server, migrated_database, ours_command

SECONDS = float(os.getenv("SOAK_SECONDS", "180"))
CLIENTS = int(os.getenv("SOAK_CLIENTS", "32"))
WARMUP = float(os.getenv("SOAK_WARMUP", str(min(30.0, SECONDS / 5))))
EPISODES_PER_INSTANCE = 3
RSS_TOLERANCE = 0.10
MAX_ERRORS = 100  # per client: a server that went away ends the run, not a loop of failures
JSON_HEADERS = {"Content-Type": "application/json"}


class Client(threading.Thread):
    """One agent on one keep-alive connection. ``episodes``: {instance_id: [(steps, return, terminated, truncated)]}."""

    def __init__(self, index, port, deadline):
        super().__init__(name=f"soak-{index}", daemon=True)
        self.port, self.deadline = port, deadline
        self.random = random.Random(index)
        self.requests = 0
        self.errors = []
        self.episodes = {}
        self.connection = None

    def call(self, method, path, body, expected):
        """One request; its JSON answer, or None after counting an error."""
        self.requests += 1
        try:
            if self.connection is None:
                self.connection = http.client.HTTPConnection(HOST, self.port, timeout=60)
            self.connection.request(method, path, body=None if body is None else json.dumps(body), headers=JSON_HEADERS)
            response = self.connection.getresponse()
            content = response.read()
        except (OSError, http.client.HTTPException) as error:
            self.errors.append(f"{method} {path}: {type(error).__name__}: {error}")
            self.connection = None
            return None
        if response.status != expected:
            self.errors.append(f"{method} {path}: {response.status} {content[:200]!r}")
            return None
        return json.loads(content) if content else {}

    def run(self):
        while time.monotonic() < self.deadline and len(self.errors) < MAX_ERRORS:
            created = self.call("POST", "/v1/envs/", {"env_id": "CartPole-v1", "seed": self.random.randrange(2**31)}, 201)
            if created is None:
                continue
            instance_id = created["instance_id"]
            self.episodes[instance_id] = []
            for _ in range(EPISODES_PER_INSTANCE):
                if not self.play(instance_id) or time.monotonic() >= self.deadline:
                    break
            self.call("DELETE", f"/v1/envs/{instance_id}/", None, 200)
        if self.connection is not None:
            self.connection.close()

    def play(self, instance_id):
        """One episode to its end; False when a request failed."""
        if self.call("POST", f"/v1/envs/{instance_id}/reset/", {}, 200) is None:
            return False
        steps, total = 0, 0.0
        while True:
            answer = self.call("POST", f"/v1/envs/{instance_id}/step/", {"action": self.random.randrange(2)}, 200)
            if answer is None:
                return False
            steps += 1
            total += answer["reward"]
            if answer["terminated"] or answer["truncated"]:
                self.episodes[instance_id].append((steps, total, answer["terminated"], answer["truncated"]))
                return True


def check_database(path, clients):
    """What is wrong in the database against what the clients saw (an empty list when nothing is)."""
    seen = {uuid.UUID(instance_id): episodes for client in clients for instance_id, episodes in client.episodes.items()}
    problems = []
    with closing(sqlite3.connect(path)) as connection:
        statuses = {uuid.UUID(pk): status for pk, status in connection.execute("select id, status from envs_envinstance")}
        rows = connection.execute(
            "select instance_id, number, steps, total_reward, terminated, truncated from envs_episode order by number"
        ).fetchall()
    if set(statuses) != set(seen):
        problems.append(f"{len(statuses)} instances recorded, {len(seen)} created by the clients")
    not_closed = [pk for pk, status in statuses.items() if status != "closed"]
    if not_closed:
        problems.append(f"{len(not_closed)} instance(s) not closed, e.g. {not_closed[0]}")
    recorded = {}
    for pk, number, steps, total, terminated, truncated in rows:
        recorded.setdefault(uuid.UUID(pk), []).append((number, steps, total, bool(terminated), bool(truncated)))
    for instance_id, episodes in seen.items():
        expected = [(number, *episode) for number, episode in enumerate(episodes, start=1)]
        if recorded.get(instance_id, []) != expected:
            problems.append(f"{instance_id}: recorded {recorded.get(instance_id, [])[:3]}..., seen {expected[:3]}...")
    return problems, len(rows)


def megabytes(value):
    return f"{value / 2**20:,.1f} MB"


def main():
    with tempfile.TemporaryDirectory(prefix="gymapi-soak-") as directory:
        env = migrated_database(directory)
        database = Path(env["DATABASE_URL"].removeprefix("sqlite:///"))
        print(f"soak: {CLIENTS} clients for {SECONDS:g} s against the production server on {HOST} "
              f"(warm-up {WARMUP:g} s)", flush=True)
        server = Server("ours", lambda port: ours_command("production", port), env)
        with server:
            started = time.monotonic()
            clients = [Client(index, server.port, started + SECONDS) for index in range(CLIENTS)]
            for client in clients:
                client.start()
            time.sleep(min(WARMUP, SECONDS))
            rss_start = server.rss_bytes()
            rss_peak = rss_start
            while any(client.is_alive() for client in clients):
                rss_peak = max(rss_peak, server.rss_bytes())
                time.sleep(0.5)
            rss_end = server.rss_bytes()
            elapsed = time.monotonic() - started
        exit_code = server.process.returncode

        requests = sum(client.requests for client in clients)
        errors = [error for client in clients for error in client.errors]
        instances = sum(len(client.episodes) for client in clients)
        finished = sum(len(episodes) for client in clients for episodes in client.episodes.values())
        steps = sum(episode[0] for client in clients for episodes in client.episodes.values() for episode in episodes)
        problems, rows = check_database(database, clients)
        growth = (rss_end - rss_start) / rss_start
        flat = abs(growth) <= RSS_TOLERANCE

        print(f"requests:    {requests:,} in {elapsed:.0f} s ({requests / elapsed:,.0f}/s)")
        print(f"errors:      {len(errors)}")
        for error in errors[:10]:
            print(f"  {error}")
        print(f"instances:   {instances:,} created and closed; {finished:,} episodes, {steps:,} steps")
        print(f"RSS:         {megabytes(rss_start)} after the warm-up, {megabytes(rss_end)} at the end "
              f"({growth:+.1%}; peak {megabytes(rss_peak)}): {'flat' if flat else 'NOT flat'} within {RSS_TOLERANCE:.0%}")
        print(f"server exit: {exit_code} after SIGTERM")
        print(f"database:    {rows:,} episodes recorded, {finished:,} finished as the clients saw them: "
              f"{'consistent' if not problems else 'INCONSISTENT'}")
        for problem in problems[:10]:
            print(f"  {problem}")
        if errors and server.output:
            print(f"server log (its end):\n{server.output[-4000:]}")
        ok = not errors and not problems and exit_code == 0
        print(f"SOAK requests={requests} errors={len(errors)} episodes={finished} recorded={rows} "
              f"consistent={'yes' if not problems else 'no'} rss_start_mb={rss_start / 2**20:.1f} "
              f"rss_end_mb={rss_end / 2**20:.1f} exit={exit_code}", flush=True)
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
