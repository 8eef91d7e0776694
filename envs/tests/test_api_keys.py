"""GYMAPI_REQUIRE_KEYS: every /v1 route takes a key, sent as Authorization: Bearer.

A missing, malformed, unknown or revoked key is a 401 in the API's error shape
with WWW-Authenticate: Bearer, and the request changes nothing. A logged-in
staff user reads (GET) everything and may close instances (the monitor's tiles),
with the page's CSRF token; it creates and drives nothing. Keys off, nothing is asked.
"""

import uuid

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from envs import access
from envs.models import ApiKey, EnvInstance

from .keyed import alice, bob, client_with, create, keys_on, new_key  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

# Every kind of /v1 route; {id} is an active instance of alice's.
ROUTES = [
    ("get", "/v1/envs/"),
    ("post", "/v1/envs/"),
    ("get", "/v1/registry/"),
    ("get", "/v1/vector_envs/"),
    ("post", "/v1/vector_envs/"),
    ("get", "/v1/envs/{id}/"),
    ("delete", "/v1/envs/{id}/"),
    ("post", "/v1/envs/{id}/reset/"),
    ("post", "/v1/envs/{id}/step/"),
    ("get", "/v1/envs/{id}/action_space/"),
    ("get", "/v1/envs/{id}/observation_space/"),
    ("get", "/v1/envs/{id}/action_space/sample/"),
    ("post", "/v1/envs/{id}/action_space/contains/"),
    ("post", "/v1/envs/{id}/observation_space/contains/"),
    ("get", "/v1/envs/{id}/monitor/render/"),
    ("get", "/v1/envs/{id}/monitor/stream/"),
    ("get", "/v1/envs/{id}/episodes/"),
    ("get", "/v1/no/such/route/"),
]
BODIES = {"post": {"env_id": "CartPole-v1", "num_envs": 2, "action": 0, "x": 0}}


def assert_unauthorized(response, code):
    assert response.status_code == 401, response.content
    assert response.json() == {"detail": response.json()["detail"], "code": code}
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("method, route", ROUTES)
def test_it_refuses_every_route_without_a_key_and_changes_nothing(keys_on, alice, method, route):
    instance_id = create(client_with(alice))
    before = list(EnvInstance.objects.values_list("id", "status"))
    response = getattr(client_with(), method)(route.format(id=instance_id), BODIES.get(method), format="json")
    assert_unauthorized(response, "not_authenticated")
    assert "Bearer" in response.json()["detail"]
    assert list(EnvInstance.objects.values_list("id", "status")) == before


# The MJPEG stream runs until its instance closes: its answer with a key is in test_ownership.py.
SERVED = [(method, route) for method, route in ROUTES if not route.endswith(("stream/", "/no/such/route/"))]


@pytest.mark.parametrize("method, route", SERVED)
def test_it_serves_every_route_with_a_key(keys_on, alice, method, route):
    client = client_with(alice)
    instance_id = create(client, render_mode="rgb_array")
    client.post(f"/v1/envs/{instance_id}/reset/", {})
    response = getattr(client, method)(route.format(id=instance_id), BODIES.get(method), format="json")
    assert response.status_code in (200, 201, 204), response.content


def test_an_unknown_route_with_a_key_is_the_api_404(keys_on, alice):
    response = client_with(alice).get("/v1/no/such/route/")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_it_refuses_an_unknown_key(keys_on, alice):
    assert_unauthorized(client_with(alice + "x").get("/v1/envs/"), "invalid_key")
    assert_unauthorized(client_with("gk_" + uuid.uuid4().hex).post("/v1/envs/", {"env_id": "CartPole-v1"}), "invalid_key")
    assert not EnvInstance.objects.exists()


@pytest.mark.parametrize("header", ["Basic YWxpY2U6cHc=", "Bearer", "Bearer    ", "Token gk_x"])
def test_it_refuses_another_scheme_or_an_empty_bearer(keys_on, alice, api, header):
    response = api.get("/v1/envs/", HTTP_AUTHORIZATION=header)
    assert_unauthorized(response, "not_authenticated")


def test_it_accepts_the_scheme_in_any_case(keys_on, alice, api):
    assert api.get("/v1/envs/", HTTP_AUTHORIZATION=f"bearer {alice}").status_code == 200


def test_a_key_revoked_in_this_process_stops_working_at_once(keys_on, alice):
    client = client_with(alice)
    assert client.get("/v1/envs/").status_code == 200  # now cached
    assert access.key_revoke(ApiKey.objects.get(name="alice"))
    assert_unauthorized(client.get("/v1/envs/"), "key_revoked")


def test_a_key_revoked_by_another_process_stops_working_within_the_cache_time(keys_on, alice, monkeypatch):
    client = client_with(alice)
    assert client.get("/v1/envs/").status_code == 200
    # As manage.py apikey revoke in another process: the database changes, this process's cache does not.
    ApiKey.objects.filter(name="alice").update(revoked_at=timezone.now())
    assert client.get("/v1/envs/").status_code == 200  # still cached
    later = access.time.monotonic() + keys_on.GYMAPI_KEY_CACHE_SECONDS + 0.001
    monkeypatch.setattr(access.time, "monotonic", lambda: later)
    assert_unauthorized(client.get("/v1/envs/"), "key_revoked")


def test_it_notes_when_a_key_was_last_used(keys_on, alice):
    assert ApiKey.objects.get(name="alice").last_used_at is None
    client_with(alice).get("/v1/envs/")
    assert ApiKey.objects.get(name="alice").last_used_at is not None


def test_it_stores_only_a_hash_and_a_short_prefix_of_the_key(alice):
    stored = ApiKey.objects.get(name="alice")
    assert stored.hashed_key == ApiKey.hash(alice) and alice not in stored.hashed_key
    assert alice.startswith(stored.prefix) and len(stored.prefix) < len(alice) // 3
    assert alice.startswith("gk_") and len(alice) >= 40


def test_keys_off_asks_for_nothing_and_ignores_a_key(api, db):
    assert api.get("/v1/envs/").status_code == 200
    instance_id = create(api)
    assert EnvInstance.objects.get(pk=instance_id).owner is None
    assert client_with("gk_whatever").post(f"/v1/envs/{instance_id}/reset/", {}).status_code == 200


@pytest.fixture
def staff_browser(db):
    from django.test import Client

    client = Client()
    client.force_login(User.objects.create_user("carol", password="pw", is_staff=True))
    return client


def test_a_staff_login_reads_every_instance(keys_on, alice, bob, staff_browser):
    ids = {create(client_with(alice)), create(client_with(bob))}
    assert set(staff_browser.get("/v1/envs/").json()) == ids
    for instance_id in ids:
        assert staff_browser.get(f"/v1/envs/{instance_id}/").status_code == 200


def test_a_staff_login_creates_and_drives_nothing(keys_on, alice, staff_browser):
    instance_id = create(client_with(alice))
    for method, route in [("post", "/v1/envs/"), ("post", f"/v1/envs/{instance_id}/reset/"), ("post", f"/v1/envs/{instance_id}/step/")]:
        response = getattr(staff_browser, method)(route, {"env_id": "CartPole-v1", "action": 0}, content_type="application/json")
        assert_unauthorized(response, "key_required")
    assert EnvInstance.objects.get().status == "active"


def staff_page(username):
    """A staff login's browser that, like the monitor page, sends this server's CSRF token."""
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.create_user(username, password="pw", is_staff=True))
    client.get("/monitor/")  # the page sets the CSRF cookie
    return client, client.cookies["csrftoken"].value


@pytest.mark.parametrize("path", ["/v1/envs/", "/v1/vector_envs/"])
def test_a_staff_login_closes_any_instance_from_the_monitor(keys_on, alice, path):
    instance_id = create(client_with(alice), path)
    browser, token = staff_page("carol")
    assert browser.delete(f"{path}{instance_id}/", HTTP_X_CSRFTOKEN=token).status_code == 200
    assert EnvInstance.objects.get().status == "closed"


def test_a_staff_close_without_the_pages_csrf_token_is_refused(keys_on, alice):
    instance_id = create(client_with(alice))
    browser, _ = staff_page("carol")
    response = browser.delete(f"/v1/envs/{instance_id}/")
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    assert EnvInstance.objects.get().status == "active"


def test_a_non_staff_login_is_not_enough(keys_on, db):
    from django.test import Client

    client = Client()
    client.force_login(User.objects.create_user("dave", password="pw"))
    assert_unauthorized(client.get("/v1/envs/"), "not_authenticated")


def test_the_schema_and_docs_need_no_key(keys_on, api):
    assert api.get("/openapi.json").status_code == 200
    assert api.get("/docs").status_code == 200
