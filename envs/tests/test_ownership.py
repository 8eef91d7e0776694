"""Each instance belongs to the key that created it.

Another key gets, on every route, exactly what an unknown id gets (the same
status, code and words, the id as it was sent), does not see it in lists, and
changes nothing of it. GYMAPI_MAX_INSTANCES_PER_KEY caps a key's active instances.
"""

import json
import re
import uuid

import pytest

from envs import access
from envs.http import dispatch
from envs.models import EnvInstance, Episode
from envs.runtime import runtime

from . import drive
from .keyed import alice, bob, client_with, create, key_id, keys_on  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

SINGLE_ROUTES = [
    ("get", "{id}/"),
    ("delete", "{id}/"),
    ("post", "{id}/reset/"),
    ("post", "{id}/step/"),
    ("get", "{id}/action_space/"),
    ("get", "{id}/observation_space/"),
    ("get", "{id}/action_space/sample/"),
    ("post", "{id}/action_space/contains/"),
    ("post", "{id}/observation_space/contains/"),
    ("get", "{id}/monitor/render/"),
    ("get", "{id}/monitor/stream/"),
    ("get", "{id}/episodes/"),
]
VECTOR_ROUTES = [
    ("get", "{id}/"),
    ("delete", "{id}/"),
    ("post", "{id}/reset/"),
    ("post", "{id}/step/"),
    ("get", "{id}/action_space/"),
    ("get", "{id}/observation_space/"),
    ("get", "{id}/action_space/sample/"),
    ("get", "{id}/episodes/"),
]
BODY = {"action": [0, 1], "x": 0}


def answer(client, method, path):
    response = getattr(client, method)(path, BODY, format="json")
    return response.status_code, response.json()


def without(instance_id, body):
    """A JSON body with ``instance_id`` written as <id>."""
    return re.sub(re.escape(str(instance_id)), "<id>", repr(body), flags=re.IGNORECASE)


def assert_like_unknown(client, method, route, instance_id):
    """``client``'s answer for ``instance_id`` is the answer for an id that does not exist."""
    unknown = str(uuid.uuid4())
    status, body = answer(client, method, route.format(id=instance_id))
    unknown_status, unknown_body = answer(client, method, route.format(id=unknown))
    assert (status, body["code"]) == (unknown_status, unknown_body["code"]) == (404, "instance_not_found"), body
    assert without(instance_id, body) == without(unknown, unknown_body)


@pytest.mark.parametrize("method, route", SINGLE_ROUTES)
def test_another_keys_instance_is_an_unknown_id_on_every_route(keys_on, alice, bob, method, route):
    owner = client_with(alice)
    instance_id = create(owner, render_mode="rgb_array", seed=1)
    owner.post(f"/v1/envs/{instance_id}/reset/", {})
    owner.post(f"/v1/envs/{instance_id}/step/", {"action": 1})
    assert_like_unknown(client_with(bob), method, "/v1/envs/" + route, instance_id)
    live = runtime.get(instance_id)
    assert live is not None and not live.closed and live.episode_steps == 1  # untouched
    assert EnvInstance.objects.get(pk=instance_id).status == "active"


@pytest.mark.parametrize("method, route", SINGLE_ROUTES)
def test_the_owner_is_served_on_every_route(keys_on, alice, method, route):
    owner = client_with(alice)
    instance_id = create(owner, render_mode="rgb_array", seed=1)
    owner.post(f"/v1/envs/{instance_id}/reset/", {})
    body = {"action": 1, "x": 0}
    response = getattr(owner, method)(f"/v1/envs/{route.format(id=instance_id)}", body, format="json")
    assert response.status_code in (200, 204), response.content
    response.close()  # the MJPEG stream's generator


@pytest.mark.parametrize("method, route", VECTOR_ROUTES)
def test_another_keys_vector_instance_is_an_unknown_id_on_every_route(keys_on, alice, bob, method, route):
    owner = client_with(alice)
    instance_id = create(owner, "/v1/vector_envs/", seed=1)
    owner.post(f"/v1/vector_envs/{instance_id}/reset/", {})
    assert_like_unknown(client_with(bob), method, "/v1/vector_envs/" + route, instance_id)
    assert runtime.get(instance_id).steps == 0
    assert owner.post(f"/v1/vector_envs/{instance_id}/step/", {"action": [0, 1]}).status_code == 200


def test_a_closed_instance_of_another_key_is_unknown_too_not_gone(keys_on, alice, bob):
    owner = client_with(alice)
    instance_id = create(owner)
    assert owner.delete(f"/v1/envs/{instance_id}/").status_code == 200
    assert owner.get(f"/v1/envs/{instance_id}/").status_code == 410  # the owner is told it is gone
    assert_like_unknown(client_with(bob), "get", "/v1/envs/{id}/", instance_id)
    assert_like_unknown(client_with(bob), "get", "/v1/envs/{id}/episodes/", instance_id)


def test_another_keys_vector_id_on_the_single_routes_is_unknown_not_the_wrong_kind(keys_on, alice, bob):
    vector_id = create(client_with(alice), "/v1/vector_envs/")
    single_id = create(client_with(alice))
    assert client_with(alice).get(f"/v1/envs/{vector_id}/").json()["code"] == "wrong_instance_kind"
    assert_like_unknown(client_with(bob), "get", "/v1/envs/{id}/", vector_id)
    assert_like_unknown(client_with(bob), "get", "/v1/vector_envs/{id}/", single_id)


@pytest.mark.parametrize("spelling", [str.upper, lambda text: text.replace("-", ""), lambda text: "{" + text + "}"])
def test_another_spelling_of_the_id_is_unknown_too(keys_on, alice, bob, spelling):
    instance_id = create(client_with(alice))
    assert_like_unknown(client_with(bob), "post", "/v1/envs/{id}/step/", spelling(instance_id))


def test_lists_show_a_key_its_own_instances_only(keys_on, alice, bob):
    mine = {create(client_with(alice)), create(client_with(alice))}
    theirs = create(client_with(bob))
    vector = create(client_with(alice), "/v1/vector_envs/")
    assert set(client_with(alice).get("/v1/envs/").json()) == mine
    assert list(client_with(bob).get("/v1/envs/").json()) == [theirs]
    assert list(client_with(alice).get("/v1/vector_envs/").json()) == [vector]
    assert client_with(bob).get("/v1/vector_envs/").json() == {}


def test_an_instance_records_its_owner(keys_on, alice):
    instance_id = create(client_with(alice))
    assert EnvInstance.objects.get(pk=instance_id).owner.name == "alice"
    assert runtime.get(instance_id).owner_id == key_id(alice)


def test_the_event_loop_leaves_another_keys_instance_alone(cheap_calls):
    instance_id = drive.create("CartPole-v1", owner_id=None)
    drive.reset(instance_id)
    drive.step(instance_id, 0)  # an operation runs on the loop once measured in a thread
    steps = runtime.get(instance_id).episode_steps
    stranger = access.key_caller(12345)
    assert dispatch.call_on_loop(dispatch.STEP, instance_id, {"action": 0}, caller=stranger) is None  # its 404: a thread's
    assert runtime.get(instance_id).episode_steps == steps
    outcome = dispatch.call_on_loop(dispatch.STEP, instance_id, {"action": 0}, caller=access.ANYONE)
    assert runtime.get(instance_id).episode_steps == steps + 1 and outcome.body["reward"] == 1.0


# --- any method -----------------------------------------------------------------------

METHODS = ["options", "put", "patch", "post", "get", "delete", "head"]


def raw_answer(client, method, path, body=None):
    response = client.generic(method.upper(), path, json.dumps(body or {}), content_type="application/json")
    return response.status_code, response.content.decode()


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    "route",
    ["/v1/envs/{id}/", "/v1/envs/{id}/step/", "/v1/envs/{id}/reset/", "/v1/envs/{id}/action_space/",
     "/v1/envs/{id}/episodes/", "/v1/envs/{id}/monitor/render/", "/v1/vector_envs/{vec}/",
     "/v1/vector_envs/{vec}/step/", "/v1/vector_envs/{vec}/reset/", "/v1/vector_envs/{vec}/action_space/sample/"],
)
def test_every_method_on_another_keys_instance_answers_as_on_an_unknown_id(keys_on, alice, bob, method, route):
    owner = client_with(alice)
    ids = {"id": create(owner), "vec": create(owner, "/v1/vector_envs/")}
    unknown = str(uuid.uuid4())
    path, unknown_path = route.format(**ids), route.format(id=unknown, vec=unknown)
    theirs = raw_answer(client_with(bob), method, path)
    none = raw_answer(client_with(bob), method, unknown_path)
    assert theirs[0] == none[0] == 404, (theirs, none)
    assert theirs[1].replace(ids["id"], "<id>").replace(ids["vec"], "<id>") == none[1].replace(unknown, "<id>")
    assert runtime.get(ids["id"]).episode_steps == 0 and not runtime.get(ids["id"]).closed
    assert runtime.get(ids["vec"]) is not None


@pytest.mark.parametrize("method, status", [("options", 200), ("put", 405), ("patch", 405)])
@pytest.mark.parametrize("route", ["/v1/envs/{id}/", "/v1/envs/{id}/step/", "/v1/vector_envs/{vec}/"])
def test_the_owner_keeps_its_answers_to_other_methods(keys_on, alice, method, status, route):
    owner = client_with(alice)
    path = route.format(id=create(owner), vec=create(owner, "/v1/vector_envs/"))
    assert raw_answer(owner, method, path)[0] == status


def test_an_invalid_body_for_another_keys_instance_is_the_unknown_ids_404_not_a_400(keys_on, alice, bob):
    instance_id = create(client_with(alice))
    unknown = str(uuid.uuid4())
    for path in ("/v1/envs/{id}/step/", "/v1/vector_envs/{id}/step/"):
        theirs = raw_answer(client_with(bob), "post", path.format(id=instance_id), {"actions": "x"})
        none = raw_answer(client_with(bob), "post", path.format(id=unknown), {"actions": "x"})
        assert theirs[0] == none[0] == 404, (theirs, none)


# --- the cap ------------------------------------------------------------------------


@pytest.fixture
def capped(keys_on):
    keys_on.GYMAPI_MAX_INSTANCES_PER_KEY = 2
    return keys_on


def test_a_key_at_its_cap_gets_a_429_and_nothing_is_created(capped, alice, bob):
    owner = client_with(alice)
    first = create(owner)
    create(owner, "/v1/vector_envs/")  # a vector instance counts one
    live_before = set(runtime.ids())
    for path in ("/v1/envs/", "/v1/vector_envs/"):
        response = owner.post(path, {"env_id": "CartPole-v1", "num_envs": 2})
        assert response.status_code == 429, response.content
        assert response.json()["code"] == "key_instance_cap"
        assert "GYMAPI_MAX_INSTANCES_PER_KEY=2" in response.json()["detail"]
    assert EnvInstance.objects.count() == 2
    assert set(runtime.ids()) == live_before
    create(client_with(bob))  # another key has its own count
    assert owner.delete(f"/v1/envs/{first}/").status_code == 200
    create(owner)  # a closed instance no longer counts


def test_without_a_cap_a_key_creates_as_many_as_it_likes(keys_on, alice):
    for _ in range(3):
        create(client_with(alice))
    assert EnvInstance.objects.filter(owner__name="alice").count() == 3


# --- legacy mode --------------------------------------------------------------------


@pytest.fixture
def legacy_keys(keys_on, tmp_path):
    keys_on.ROOT_URLCONF = "envs.legacy.tests.urls"
    keys_on.GYMAPI_LEGACY_API = True
    keys_on.MEDIA_ROOT = tmp_path / "media"
    return keys_on


@pytest.mark.parametrize(
    "method, route",
    [
        ("post", "{id}/reset/"),
        ("post", "{id}/step/"),
        ("get", "{id}/action_space/"),
        ("get", "{id}/action_space/sample"),
        ("get", "{id}/action_space/contains/0"),
        ("post", "{id}/observation_space/contains"),
        ("post", "{id}/close/"),
        ("get", "{id}/monitor/files/"),
    ],
)
def test_legacy_routes_answer_another_keys_instance_as_an_unknown_one(legacy_keys, alice, bob, method, route):
    response = client_with(alice).post("/v1/envs/", {"env_id": "CartPole-v1"})
    instance_id = response.json()["instance_id"]
    unknown = str(uuid.uuid4())
    theirs = getattr(client_with(bob), method)(f"/v1/envs/{route.format(id=instance_id)}", {"action": 0, "name": "Box"}, format="json")
    none = getattr(client_with(bob), method)(f"/v1/envs/{route.format(id=unknown)}", {"action": 0, "name": "Box"}, format="json")
    assert theirs.status_code == none.status_code == 400
    assert theirs.json() == {"message": f"Instance_id {instance_id} unknown"}
    assert none.json() == {"message": f"Instance_id {unknown} unknown"}
    assert runtime.get(instance_id) is not None


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("route", ["{id}/reset/", "{id}/step/", "{id}/action_space/", "{id}/monitor/files/", "{id}/close/"])
def test_legacy_routes_answer_every_method_on_another_keys_instance_as_on_an_unknown_id(
    legacy_keys, alice, bob, method, route
):
    owner = client_with(alice)
    instance_id = owner.post("/v1/envs/", {"env_id": "CartPole-v1"}).json()["instance_id"]
    unknown = str(uuid.uuid4())
    theirs = raw_answer(client_with(bob), method, "/v1/envs/" + route.format(id=instance_id))
    none = raw_answer(client_with(bob), method, "/v1/envs/" + route.format(id=unknown))
    assert theirs[0] == none[0] == 400, (theirs, none)
    assert theirs[1].replace(instance_id, "<id>") == none[1].replace(unknown, "<id>")
    if method in ("put", "patch"):
        assert raw_answer(owner, method, "/v1/envs/" + route.format(id=instance_id))[0] == 405
    assert runtime.get(instance_id) is not None


def test_legacy_lists_and_cap_are_per_key(legacy_keys, alice, bob):
    legacy_keys.GYMAPI_MAX_INSTANCES_PER_KEY = 1
    mine = client_with(alice).post("/v1/envs/", {"env_id": "CartPole-v1"}).json()["instance_id"]
    assert client_with(alice).get("/v1/envs/").json() == {"all_envs": {mine: "CartPole-v1"}}
    assert client_with(bob).get("/v1/envs/").json() == {"all_envs": {}}
    refused = client_with(alice).post("/v1/envs/", {"env_id": "CartPole-v1"})
    assert refused.status_code == 429 and "GYMAPI_MAX_INSTANCES_PER_KEY=1" in refused.json()["message"]


def test_episodes_of_another_key_stay_hidden_after_the_instance_is_closed(keys_on, alice, bob):
    owner = client_with(alice)
    instance_id = create(owner, seed=1)
    owner.post(f"/v1/envs/{instance_id}/reset/", {})
    owner.post(f"/v1/envs/{instance_id}/step/", {"action": 0})
    owner.delete(f"/v1/envs/{instance_id}/")
    assert Episode.objects.filter(instance_id=instance_id).exists()
    assert client_with(bob).get(f"/v1/envs/{instance_id}/episodes/").status_code == 404
    assert owner.get(f"/v1/envs/{instance_id}/episodes/").json()["count"] == 1
