"""A Ray cluster and fronts on it, for the tests of the Ray runtime (``-m cluster``: the PostgreSQL run
of ``make test`` runs them, since fronts share a PostgreSQL database).

One Ray cluster for the whole session, owned by the test process (``ray.init``: ``ray.shutdown``
stops every process of it), joined by the fronts, real server processes, with token
authentication on. Fronts share a throwaway PostgreSQL database and a Redis database, in which
the session's channel layer keys carry a prefix of their own (others may use that database too).
"""

import contextlib
import os
import shutil
import tempfile
import time
import uuid

import psycopg
import pytest
import redis
import requests

from gymapi.testing.server import ServerProcess

POSTGRES_URL = os.getenv("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
REDIS_URL = os.getenv("TEST_CLUSTER_REDIS_URL", "redis://127.0.0.1:6379/9")
# This session's channel layer keys and channels in that database (GYMAPI_CHANNEL_PREFIX).
CHANNEL_PREFIX = f"gymapi-cluster-{uuid.uuid4().hex[:10]}"


def start_cluster():
    """A Ray cluster owned by this process (its address), token authentication on."""
    import ray

    # A local cluster authenticates with a token by default (Ray 2.59 and later); the fronts say
    # RAY_AUTH_MODE=token and read the same token, from ~/.ray/auth_token.
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # Ray's sockets want a short path
    # Logical CPUs: actors reserve a quarter each, and the tests make a few dozen.
    ray.init(num_cpus=16, include_dashboard=False, namespace="gymapi", log_to_driver=False, _temp_dir=temp)
    return ray.get_runtime_context().gcs_address, temp


def stop_cluster(temp):
    import ray

    ray.shutdown()
    shutil.rmtree(temp, ignore_errors=True)


class Database:
    """A throwaway PostgreSQL database the fronts share."""

    def __init__(self):
        server, _, _ = POSTGRES_URL.rpartition("/")
        self.admin = f"{server}/postgres"
        self.name = f"gymapi_cluster_{uuid.uuid4().hex[:10]}"
        self.url = f"{server}/{self.name}"

    def __enter__(self):
        with psycopg.connect(self.admin, autocommit=True, connect_timeout=3) as admin:
            admin.execute(f'create database "{self.name}"')
        return self

    def __exit__(self, *exc):
        with psycopg.connect(self.admin, autocommit=True) as admin:
            admin.execute(f'drop database if exists "{self.name}" with (force)')

    def rows(self, sql, *params):
        with psycopg.connect(self.url) as connection:
            return connection.execute(sql, params).fetchall()


def front(tmp_path_factory, address, database, **env):
    """A front (the production server) on the Ray runtime, started."""
    return ServerProcess(
        tmp_path_factory.mktemp("front"),
        GYMAPI_RUNTIME="ray", RAY_ADDRESS=address, RAY_AUTH_MODE="token", DATABASE_URL=database.url, REDIS_URL=REDIS_URL,
        GYMAPI_CHANNEL_PREFIX=CHANNEL_PREFIX, GYMAPI_ENV_PACKAGES="envs.tests.faulty_envs", LOG_LEVEL="INFO", **env,
    ).start()


def call(server, method, path, body=None, expect=None):
    """One request to a front: (status, JSON body)."""
    response = requests.request(method, f"{server.url}{path}", json=body, timeout=120)
    answer = response.json() if response.content else None
    if expect is not None:
        assert response.status_code == expect, (method, path, response.status_code, answer)
    return response.status_code, answer


def wait_until(predicate, seconds=30, what="the condition"):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"{what} did not come within {seconds} s"
        time.sleep(0.2)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    """``(address, database, front_a, front_b)``: one Ray cluster, two fronts sharing a database."""
    address, temp = start_cluster()
    try:
        # Leaving the block stops every front started (the first too when the second fails to start),
        # then drops the database.
        with Database() as database, contextlib.ExitStack() as started:
            fronts = [
                started.enter_context(
                    front(tmp_path_factory, address, database, GYMAPI_MAX_INSTANCES="12", GYMAPI_MAX_INSTANCES_PER_KEY="0")
                )
                for _ in range(2)
            ]
            yield address, database, *fronts
    finally:
        stop_cluster(temp)
        forget_channels()


def forget_channels():
    """Remove what this session's fronts left in Redis (the layer's keys expire anyway, a day at most)."""
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(match=f"{CHANNEL_PREFIX}*", count=1000):
        client.delete(key)
