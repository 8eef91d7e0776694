"""Helpers for tests of a server that requires API keys: keys, clients that send them,
and the fixture that turns the requirement on. Import the fixtures a module uses."""

import pytest
from rest_framework.test import APIClient

from envs.access import keys
from envs.models import ApiKey


def new_key(name):
    """A new key (the secret string) named ``name``."""
    return ApiKey.objects.create_key(name=name)[1]


def key_id(key):
    return ApiKey.objects.get(hashed_key=ApiKey.hash(key)).id


def client_with(key=None):
    """A DRF test client sending JSON bodies, with ``key`` as its Bearer key when given."""
    client = APIClient()
    client.default_format = "json"
    if key is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def create(client, path="/v1/envs/", **fields):
    """Create an instance (``path``: /v1/envs/ or /v1/vector_envs/) through ``client``; returns its id."""
    body = {"env_id": "CartPole-v1", **fields}
    if path == "/v1/vector_envs/":
        body.setdefault("num_envs", 2)
    response = client.post(path, body)
    assert response.status_code == 201, response.content
    return response.json()["instance_id"]


@pytest.fixture
def keys_on(settings):
    """GYMAPI_REQUIRE_KEYS on, and a key cache that starts and ends empty."""
    settings.GYMAPI_REQUIRE_KEYS = True
    keys.forget()
    yield settings
    keys.forget()


@pytest.fixture
def alice(db):
    return new_key("alice")


@pytest.fixture
def bob(db):
    return new_key("bob")
