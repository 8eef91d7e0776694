"""Fixtures for the client's tests: they run against a real gymapi server.

The session-wide ``server`` fixture (daphne on a free port, its own SQLite
database) comes from the checkout's root conftest.py.
"""

import pytest

from gymapi_client import RemoteEnv


@pytest.fixture
def url(server):
    return server.url


@pytest.fixture
def remote(url):
    """``remote(env_id, **options)`` creates a RemoteEnv on the test server; all are closed afterwards."""
    created = []

    def make(env_id="CartPole-v1", **options):
        env = RemoteEnv(url, env_id, **options)
        created.append(env)
        return env

    yield make
    for env in created:
        env.close()
