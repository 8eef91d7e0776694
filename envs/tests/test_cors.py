"""CORS (GYMAPI_CORS_ORIGINS, through django-cors-headers): a page of another origin
may call /v1 from a browser when its origin is allowed, and only then.

Browsers send a preflight (OPTIONS with Access-Control-Request-Method) before
a request with an Authorization header or a JSON body; they let the page read
an answer only when it carries Access-Control-Allow-Origin for the page's
origin. The fast path adds the same headers as Django for step and reset.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .keyed import alice, client_with, create, keys_on  # noqa: F401 (fixtures)
from .test_fastpath import call, normalized

BASE_DIR = Path(__file__).resolve().parent.parent.parent

AGENT = "http://agent.example:8080"
STRANGER = "http://evil.example"


@pytest.fixture
def cors(settings):
    """GYMAPI_CORS_ORIGINS=http://agent.example:8080, as settings.py reads it."""
    settings.CORS_ALLOWED_ORIGINS = [AGENT]
    settings.CORS_URLS_REGEX = r"^/v1/"
    return settings


def preflight(client, path, origin, method="POST"):
    return client.options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD=method,
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
    )


@pytest.mark.django_db
class TestDjango:
    def test_it_allows_the_preflight_of_an_allowed_origin(self, cors, api):
        response = preflight(api, "/v1/envs/", AGENT)
        assert response.status_code == 200
        assert response["Access-Control-Allow-Origin"] == AGENT
        assert {"authorization", "content-type"} <= set(response["Access-Control-Allow-Headers"].split(", "))
        assert {"POST", "DELETE", "GET"} <= set(response["Access-Control-Allow-Methods"].split(", "))

    def test_it_does_not_allow_another_origin(self, cors, api):
        response = preflight(api, "/v1/envs/", STRANGER)
        assert "Access-Control-Allow-Origin" not in response
        response = api.get("/v1/envs/", HTTP_ORIGIN=STRANGER)
        assert response.status_code == 200 and "Access-Control-Allow-Origin" not in response

    def test_it_lets_an_allowed_origin_read_the_answers(self, cors, api):
        response = api.post("/v1/envs/", {"env_id": "CartPole-v1"}, HTTP_ORIGIN=AGENT)
        assert response.status_code == 201 and response["Access-Control-Allow-Origin"] == AGENT
        assert "origin" in response["Vary"]
        assert "Access-Control-Allow-Credentials" not in response  # no cookies across origins

    def test_a_preflight_needs_no_key_and_a_401_is_readable_by_the_allowed_page(self, cors, keys_on, api):
        response = preflight(api, "/v1/envs/", AGENT)
        assert response.status_code == 200 and response["Access-Control-Allow-Origin"] == AGENT
        refused = api.get("/v1/envs/", HTTP_ORIGIN=AGENT)
        assert refused.status_code == 401 and refused["Access-Control-Allow-Origin"] == AGENT

    def test_with_a_key_an_allowed_page_drives_its_instance(self, cors, keys_on, alice):
        client = client_with(alice)
        instance_id = create(client)
        response = client.post(f"/v1/envs/{instance_id}/reset/", {}, HTTP_ORIGIN=AGENT)
        assert response.status_code == 200 and response["Access-Control-Allow-Origin"] == AGENT

    def test_only_v1_is_covered(self, cors, api):
        assert "Access-Control-Allow-Origin" not in api.get("/openapi.json", HTTP_ORIGIN=AGENT)

    def test_by_default_no_origin_is_allowed_and_nothing_is_added(self, api):
        response = preflight(api, "/v1/envs/", AGENT)
        assert "Access-Control-Allow-Origin" not in response
        response = api.get("/v1/envs/", HTTP_ORIGIN=AGENT)
        assert "Access-Control-Allow-Origin" not in response and "origin" not in response["Vary"].lower()


# --- the fast path --------------------------------------------------------------------


@pytest.fixture
def apps(cors):
    """The fast path built under these settings (it reads them when built), and Django alone."""
    from envs.http.fastpath import FastPath
    from gymapi.asgi import http_app

    from .test_keys_asgi import Counting

    return {"fast": FastPath(Counting(http_app.app)), "django": http_app.app}


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("origin", [AGENT, STRANGER, None])
async def test_the_fast_path_adds_what_django_adds(apps, origin):
    headers = {"content-type": "application/json"}
    if origin is not None:
        headers["origin"] = origin
    answers = {}
    for name, app in apps.items():
        status, _, content = await call(apps["django"], "POST", "/v1/envs/", b'{"env_id": "CartPole-v1", "seed": 2}', headers)
        instance_id = json.loads(content)["instance_id"]
        answers[name] = []
        for action, body in (("reset", b"{}"), ("step", b'{"action": 1}'), ("step", b'{"action": 1}'), ("step", b'{"action": 9}')):
            answer = await call(app, "POST", f"/v1/envs/{instance_id}/{action}/", body, headers)
            answers[name].append(normalized(answer, instance_id))
    assert answers["fast"] == answers["django"]
    assert apps["fast"].app.calls == 0  # the fast path answered every one itself
    status, response_headers, _ = answers["fast"][1]
    assert status == 200 and "origin" in response_headers["vary"]
    assert response_headers.get("access-control-allow-origin") == (AGENT if origin == AGENT else None)
    assert answers["fast"][3][0] == 400 and answers["fast"][3][1].get("access-control-allow-origin") == (
        AGENT if origin == AGENT else None
    )


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_fast_path_leaves_preflights_to_django(apps):
    headers = {"origin": AGENT, "access-control-request-method": "POST", "access-control-request-headers": "content-type"}
    status, response_headers, _ = await call(apps["fast"], "OPTIONS", "/v1/envs/x/step/", b"", headers)
    assert status == 200 and response_headers["access-control-allow-origin"] == AGENT


def test_a_star_allows_every_origin_without_credentials():
    # As the seed's server did: a page served from anywhere drives the API.
    script = (
        "from django.conf import settings; from django.test import Client; "
        "r = Client().options('/v1/envs/', HTTP_ORIGIN='https://anywhere.example', "
        "HTTP_ACCESS_CONTROL_REQUEST_METHOD='POST'); "
        "print(r.status_code, r.get('Access-Control-Allow-Origin'), r.get('Access-Control-Allow-Credentials'))"
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script], cwd=BASE_DIR, capture_output=True, text=True,
        env={**os.environ, "GYMAPI_CORS_ORIGINS": "*"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "200 * None"
    checked = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=BASE_DIR, capture_output=True, text=True,
        env={**os.environ, "GYMAPI_CORS_ORIGINS": "*"},
    )
    assert checked.returncode == 0, checked.stderr
