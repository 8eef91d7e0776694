"""The database fails under load: `python -m bench.faults` (not run by the suite).

    python -m bench.faults                # 8 clients, PostgreSQL restarted, then crashed, mid-run
    FAULTS_CLIENTS=16 python -m bench.faults

It starts the production server (bench/run.py's Server) on a throwaway
PostgreSQL database of the server at BENCH_POSTGRES_URL, sets ``FAULTS_CLIENTS``
agents playing CartPole episodes with random actions, and meanwhile stops the
PostgreSQL server twice: ``pg_ctlcluster ... restart -m fast`` (a clean
restart), then ``-m immediate`` (a crash: no checkpoint, its clients cut).
Then it stops the server (SIGTERM) and counts, against what the clients saw:
answers that were not 200 (by status, and when they came, relative to each
fault), the episodes the clients saw end, and the rows recorded for them.

It restarts the PostgreSQL server of this machine, and with it every
connection anyone has to it: run it on a machine of your own.
"""

import http.client
import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter

import psycopg

from bench.run import HOST, POSTGRES_URL, Server, migrated, ours_command

CLIENTS = int(os.getenv("FAULTS_CLIENTS", "8"))
BEFORE = float(os.getenv("FAULTS_BEFORE", "10"))  # seconds of load before each fault, and after the last
JSON_HEADERS = {"Content-Type": "application/json"}


def cluster():
    """``pg_ctlcluster``'s arguments for this machine's one cluster."""
    version = sorted(os.listdir("/etc/postgresql"))[0]
    return ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main"]


def postgres_up():
    return subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"]).returncode == 0


class Agent(threading.Thread):
    """Plays episodes until ``stop`` is set; counts its episodes and every answer that was not 200."""

    def __init__(self, index, port, stop):
        super().__init__(name=f"faults-{index}", daemon=True)
        self.port, self.stop = port, stop
        self.random = random.Random(index)
        self.failures = []  # (time.monotonic(), status or error)
        self.seen = {}  # instance id -> [(steps, return)] of the episodes that ended
        self.requests = 0

    def call(self, method, path, body=None):
        self.requests += 1
        try:
            connection = http.client.HTTPConnection(HOST, self.port, timeout=60)
            connection.request(method, path, body=None if body is None else json.dumps(body), headers=JSON_HEADERS)
            response = connection.getresponse()
            content = response.read()
            connection.close()
        except (OSError, http.client.HTTPException) as error:
            self.failures.append((time.monotonic(), type(error).__name__))
            return None
        if response.status not in (200, 201):
            self.failures.append((time.monotonic(), response.status))
            return None
        return json.loads(content)

    def run(self):
        instance_id = None
        while not self.stop.is_set():
            if instance_id is None:
                created = self.call("POST", "/v1/envs/", {"env_id": "CartPole-v1", "seed": self.random.randrange(2**31)})
                if created is None:
                    time.sleep(0.2)
                    continue
                instance_id = created["instance_id"]
                self.seen[instance_id] = []
            if self.call("POST", f"/v1/envs/{instance_id}/reset/", {}) is None:
                time.sleep(0.2)
                continue
            steps, total = 0, 0.0
            while True:
                answer = self.call("POST", f"/v1/envs/{instance_id}/step/", {"action": self.random.randrange(2)})
                if answer is None:
                    break
                steps, total = steps + 1, total + answer["reward"]
                if answer["done"]:
                    self.seen[instance_id].append((steps, total))
                    break


def main():
    admin_url = POSTGRES_URL.rpartition("/")[0]
    name = f"gymapi_faults_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{admin_url}/postgres", autocommit=True) as admin:
        admin.execute(f'create database "{name}"')
    url = f"{admin_url}/{name}"
    try:
        env = {**migrated(url), "GYMAPI_FLUSH_SECONDS": "3600"}
        server = Server("ours", lambda port: ours_command("production", port), env)
        faults = []
        with server:
            stop = threading.Event()
            agents = [Agent(index, server.port, stop) for index in range(CLIENTS)]
            for agent in agents:
                agent.start()
            for mode in ("fast", "immediate"):
                time.sleep(BEFORE)
                started = time.monotonic()
                subprocess.run([*cluster(), "restart", "-m", mode], check=True, capture_output=True)
                while not postgres_up():
                    time.sleep(0.1)
                faults.append((mode, started, time.monotonic()))
                print(f"[faults] PostgreSQL restarted -m {mode}: down {time.monotonic() - started:.1f} s", flush=True)
            time.sleep(BEFORE)
            stop.set()
            for agent in agents:
                agent.join(60)
        exit_code = server.process.returncode

        requests = sum(agent.requests for agent in agents)
        failures = [failure for agent in agents for failure in agent.failures]
        seen = {uuid.UUID(key): episodes for agent in agents for key, episodes in agent.seen.items()}
        with psycopg.connect(url) as connection:
            rows = connection.execute(
                "select instance_id, number, steps, total_reward from envs_episode where terminated or truncated"
            ).fetchall()
        recorded = Counter(instance_id for instance_id, *_ in rows)
        missing = sum(max(len(episodes) - recorded.get(key, 0), 0) for key, episodes in seen.items())
        print(f"requests: {requests:,}; not 200: {len(failures)} {dict(Counter(status for _, status in failures))}")
        for mode, started, back in faults:
            during = [status for moment, status in failures if started - 1 <= moment <= back + 10]
            print(f"  around the {mode} restart (down {back - started:.1f} s): {len(during)} {dict(Counter(during))}")
        print(f"episodes the clients saw end: {sum(map(len, seen.values())):,}; rows recorded: {len(rows):,}; "
              f"missing: {missing}")
        print(f"server exit: {exit_code} after SIGTERM")
        print(f"FAULTS requests={requests} failures={len(failures)} seen={sum(map(len, seen.values()))} "
              f"recorded={len(rows)} missing={missing} exit={exit_code}", flush=True)
        return 0 if missing == 0 and not any(status == 500 for _, status in failures) else 1
    finally:
        with psycopg.connect(f"{admin_url}/postgres", autocommit=True) as admin:
            admin.execute(f'drop database if exists "{name}" with (force)')


if __name__ == "__main__":
    sys.exit(main())


