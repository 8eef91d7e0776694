"""Every error under /v1 has one shape, {"detail", "code"} (+ "fields" for invalid input),
and nothing a client sends is a 500."""

import json
import urllib.error
import urllib.request

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from envs import selectors
from envs.models import EnvInstance, Episode
from envs.runtime import runtime

UNKNOWN = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def browserless():
    """A client that, like curl or requests, has no CSRF cookie and is held to CSRF checks."""
    client = APIClient(enforce_csrf_checks=True)
    client.default_format = "json"
    return client


def assert_error_shape(response, status, code=None):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) in ({"detail", "code"}, {"detail", "code", "fields"}), body
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["code"], str) and body["code"]
    if code is not None:
        assert body["code"] == code
    return body


def test_it_shapes_a_validation_error_with_fields(api, db):
    body = assert_error_shape(api.post("/v1/envs/", {"env_id": "CartPole-v1", "seed": "x"}), 400, "invalid")
    assert body["fields"] == {"seed": ["A valid integer is required."]}
    assert body["detail"] == "seed: A valid integer is required."


def test_it_names_every_invalid_field(api, db):
    body = assert_error_shape(api.post("/v1/envs/", {"seed": -1, "max_episode_steps": 0}), 400, "invalid")
    assert set(body["fields"]) == {"env_id", "seed", "max_episode_steps"}
    assert all(name in body["detail"] for name in body["fields"])


@pytest.mark.parametrize(
    "method, path, status, code",
    [
        ("get", f"/v1/envs/{UNKNOWN}/", 404, "instance_not_found"),
        ("post", f"/v1/envs/{UNKNOWN}/reset/", 404, "instance_not_found"),
        ("get", "/v1/envs/not-a-uuid/action_space/", 404, "instance_not_found"),
        ("get", "/v1/nothing/", 404, "not_found"),
        ("put", "/v1/envs/", 405, "method_not_allowed"),
    ],
)
def test_it_shapes_domain_and_routing_errors_the_same_way(api, db, method, path, status, code):
    body = assert_error_shape(getattr(api, method)(path), status, code)
    assert "fields" not in body


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete", "head", "options"])
@pytest.mark.parametrize("path", ["/v1/nothing/", "/v1/nothing", "/v1/envs/x/nothing/", "/v1/envs.json", "/v1/registry.json"])
def test_it_answers_an_unknown_v1_route_with_a_json_404_whatever_the_method(browserless, db, method, path):
    response = getattr(browserless, method)(path)
    assert response.status_code == 404
    if method != "head":
        assert_error_shape(response, 404, "not_found")
        assert path in response.json()["detail"]


def test_it_answers_a_post_to_an_unknown_v1_route_with_a_json_404_over_a_socket(server):
    # A real client with no CSRF cookie, as in the seed's curl session.
    request = urllib.request.Request(
        f"{server.url}/v1/no-such-route/", data=b"{}", method="POST", headers={"Content-Type": "application/json"}
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=30)
    assert raised.value.code == 404
    assert json.loads(raised.value.read())["code"] == "not_found"


def test_it_leaves_pages_outside_v1_to_django(api, db):
    response = api.get("/no-such-page/")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize(
    "method, path",
    [
        ("put", "/v1/envs/"),
        ("delete", "/v1/envs/"),
        ("patch", "/v1/envs/{id}/"),
        ("put", "/v1/envs/{id}/"),
        ("post", "/v1/envs/{id}/"),
        ("get", "/v1/envs/{id}/reset/"),
        ("get", "/v1/envs/{id}/step/"),
        ("post", "/v1/envs/{id}/action_space/"),
        ("post", "/v1/envs/{id}/action_space/sample/"),
        ("get", "/v1/envs/{id}/action_space/contains/"),
        ("post", "/v1/registry/"),
    ],
)
def test_it_answers_a_method_not_allowed_with_a_405(browserless, make_instance, method, path):
    instance_id = make_instance(reset=True)
    response = getattr(browserless, method)(path.format(id=instance_id), {})
    body = assert_error_shape(response, 405, "method_not_allowed")
    assert method.upper() in body["detail"]
    assert "Allow" in response


BAD_BODIES = [
    pytest.param("env_id=CartPole-v1", "application/x-www-form-urlencoded", 415, "unsupported_media_type", id="form"),
    pytest.param('{"env_id": "CartPole-v1"}', "text/plain", 415, "unsupported_media_type", id="text"),
    pytest.param('{"env_id": "CartPole-v1"', "application/json", 400, "parse_error", id="malformed"),
    pytest.param("\xff\xfe", "application/json", 400, "parse_error", id="not-utf8"),
    pytest.param('{"env_id": NaN}', "application/json", 400, "parse_error", id="nan"),
    pytest.param('["CartPole-v1"]', "application/json", 400, "invalid", id="list"),
    pytest.param('"CartPole-v1"', "application/json", 400, "invalid", id="string"),
    pytest.param("5", "application/json", 400, "invalid", id="number"),
    pytest.param("[" * 50_000, "application/json", 400, "parse_error", id="deep"),
    pytest.param(" " * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1), "application/json", 413, "payload_too_large", id="huge"),
]


@pytest.mark.parametrize("body, content_type, status, code", BAD_BODIES)
def test_it_refuses_a_create_body_it_cannot_read_leaving_nothing_behind(browserless, db, body, content_type, status, code):
    response = browserless.generic("POST", "/v1/envs/", body.encode("latin-1"), content_type=content_type)
    assert_error_shape(response, status, code)
    assert EnvInstance.objects.count() == 0
    assert runtime.ids() == []


@pytest.mark.parametrize("body, content_type, status, code", BAD_BODIES)
def test_it_refuses_a_step_body_it_cannot_read_leaving_the_env_alone(
    browserless, make_instance, body, content_type, status, code
):
    instance_id = make_instance(reset=True, reset_seed=1)
    before = browserless.get(f"/v1/envs/{instance_id}/").json()
    rows_before = list(Episode.objects.filter(instance_id=instance_id).values())
    response = browserless.generic(
        "POST", f"/v1/envs/{instance_id}/step/", body.encode("latin-1"), content_type=content_type
    )
    # Bodies that parse as JSON but are not an object hit validation of the step's fields.
    assert_error_shape(response, status)
    after = browserless.get(f"/v1/envs/{instance_id}/").json()
    assert after["episode"] == before["episode"]
    assert list(Episode.objects.filter(instance_id=instance_id).values()) == rows_before


def test_it_refuses_a_reset_body_it_cannot_read_without_opening_an_episode(browserless, make_instance):
    instance_id = make_instance()
    response = browserless.generic("POST", f"/v1/envs/{instance_id}/reset/", b"seed=1", content_type="application/x-www-form-urlencoded")
    assert_error_shape(response, 415, "unsupported_media_type")
    assert Episode.objects.filter(instance_id=instance_id).count() == 0


def test_it_shapes_an_unexpected_failure_as_a_500_without_a_traceback(api, db, monkeypatch):
    def broken():
        raise RuntimeError("secret internals")

    monkeypatch.setattr(selectors, "instance_list_active", broken)
    body = assert_error_shape(api.get("/v1/envs/"), 500, "server_error")
    assert "secret" not in body["detail"]


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_v1_without_its_slash_is_a_json_404_whatever_the_method(browserless, method, settings):
    settings.DEBUG = True  # where Django's own trailing-slash redirect raises for a POST
    response = getattr(browserless, method)("/v1", data=b"{}", content_type="application/json")
    assert_error_shape(response, 404, "not_found")


def test_v1_without_its_slash_sends_a_browser_to_the_api_root(browserless):
    response = browserless.get("/v1")
    assert response.status_code == 301 and response["Location"] == "/v1/"
