"""Legacy mode in-process: its URLconf, a media root of the test's own, and a
client that sends requests exactly as openai/gym-http-api's bindings do."""

import json

import pytest
from django.test import Client


class LegacyClient:
    """Requests as the bindings send them: ``Content-type: application/json`` on
    every request, and POST bodies written with ``json.dumps`` (``null`` when
    there is nothing to send)."""

    def __init__(self):
        self.client = Client()

    def get(self, route):
        return self.client.get(route, CONTENT_TYPE="application/json")

    def post(self, route, data=None):
        return self.client.post(route, data=json.dumps(data), content_type="application/json")

    def create(self, env_id="CartPole-v1", **fields):
        response = self.post("/v1/envs/", {"env_id": env_id, **fields})
        assert response.status_code == 200, response.content
        return response.json()["instance_id"]


@pytest.fixture
def legacy(settings, db, tmp_path):
    settings.ROOT_URLCONF = "envs.legacy.tests.urls"
    settings.GYMAPI_LEGACY_API = True
    settings.MEDIA_ROOT = tmp_path / "media"
    return LegacyClient()
