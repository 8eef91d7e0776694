"""Fixtures shared by every test: an API client and small factories.

Tests read like the endpoint's specification: one file per endpoint,
``test_it_*`` functions, state re-read from the database after each call.
"""

import os
import threading
import uuid
import weakref

import pytest
from django.db.backends.signals import connection_created
from rest_framework.test import APIClient

from envs.runtime import runtime


@pytest.fixture
def api():
    """A DRF test client that sends JSON bodies."""
    client = APIClient()
    client.default_format = "json"
    return client


# Every database connection opened in this process, whichever thread opened it.
_connections = weakref.WeakSet()
connection_created.connect(lambda sender, connection, **kwargs: _connections.add(connection), weak=False)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup):
    """pytest-django's, and before it drops the test database, the connections that
    threads of this process opened and keep (the fast path's workers, the episode
    writer): PostgreSQL refuses to drop a database others are connected to."""
    yield
    here = threading.get_ident()
    for connection in list(_connections):
        if connection.connection is not None and connection._thread_ident != here:
            connection.connection.close()  # the thread is idle by now; Django reconnects it if it ever runs again
            connection.connection = None


@pytest.fixture(autouse=True)
def _close_live_envs():
    # The runtime is process-wide; no live environment outlives its test.
    yield
    runtime.close_all()


@pytest.fixture
def cheap_calls(monkeypatch):
    """Every operation measured in a thread counts as cheap, so it runs on the event loop from
    then on: tests of what runs there do not depend on how fast this machine is right now."""
    from envs.http import dispatch

    monkeypatch.setattr(dispatch, "SLOW_SECONDS", 1.0)


@pytest.fixture
def make_instance(api, db):
    """Create an instance through the API; returns its id. ``reset=True`` also resets it."""

    def make(env_id="CartPole-v1", reset=False, reset_seed=None, **fields):
        response = api.post("/v1/envs/", {"env_id": env_id, **fields})
        assert response.status_code == 201, response.content
        instance_id = response.json()["instance_id"]
        if reset:
            body = {} if reset_seed is None else {"seed": reset_seed}
            assert api.post(f"/v1/envs/{instance_id}/reset/", body).status_code == 200
        return instance_id

    return make


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """A real server process (gymapi/serve.py) serving HTTP and WebSocket with its own SQLite
    database; ``server.url`` is its base URL, ``server.database`` the database file."""
    from gymapi.testing.server import ServerProcess

    process = ServerProcess(tmp_path_factory.mktemp("server")).start()
    yield process
    process.stop()


# The PostgreSQL server to create throwaway databases on (the one `make test` uses).
POSTGRES_URL = os.getenv("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")


@pytest.fixture
def postgres_url():
    """A fresh PostgreSQL database of this test's own, dropped afterwards."""
    import psycopg

    server_url, _, _ = POSTGRES_URL.rpartition("/")
    try:
        admin = psycopg.connect(f"{server_url}/postgres", autocommit=True, connect_timeout=3)
    except psycopg.Error as error:
        message = f"PostgreSQL at {server_url} is not reachable ({error})"
        if os.getenv("CI") == "true":
            pytest.fail(f"{message}, and CI needs it.")
        pytest.skip(message)
    name = f"gymapi_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'create database "{name}"')
        try:
            yield f"{server_url}/{name}"
        finally:
            admin.execute(f'drop database if exists "{name}" with (force)')
