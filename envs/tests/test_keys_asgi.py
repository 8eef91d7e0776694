"""Keys and ownership on the served ASGI application: the fast path (envs/fastpath.py)
and the calls it answers on the event loop (envs/http/dispatch.py) keep the rules Django keeps.

The fast path answers a step or reset only when its Bearer key is fresh in the
key cache; anything else (no key, a key to look up, a revoked one) goes to
Django, whose answer it is. Another key's instance is answered as an unknown id.
"""

import json
import uuid

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from envs import access
from envs.http import dispatch
from envs.models import ApiKey
from envs.runtime import runtime

from . import drive
from .keyed import keys_on, new_key  # noqa: F401 (fixtures)
from .test_fastpath import call, normalized

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


class Counting:
    """An ASGI app that counts the requests handed to it (Django, behind the fast path)."""

    def __init__(self, app):
        self.app, self.calls = app, 0

    async def __call__(self, scope, receive, send):
        self.calls += 1
        return await self.app(scope, receive, send)


@pytest.fixture
def served():
    """(fast path in front of a counting Django, the Django app alone)."""
    from envs.http.fastpath import FastPath
    from gymapi.asgi import http_app

    django = Counting(http_app.app)
    return FastPath(django), http_app.app


def headers_for(key=None):
    headers = {"content-type": "application/json"}
    if key is not None:
        headers["authorization"] = f"Bearer {key}"
    return headers


async def post(app, path, body=b"{}", key=None):
    status, headers, content = await call(app, "POST", path, body, headers_for(key))
    return status, headers, json.loads(content) if content else None


async def created(key, path="/v1/envs/", **fields):
    """An instance created with ``key`` (through Django), reset once so its next call may be made on the loop."""
    from gymapi.asgi import http_app

    body = {"env_id": "CartPole-v1", "seed": 1, **fields}
    status, _, answer = await post(http_app.app, path, json.dumps(body).encode(), key)
    assert status == 201, answer
    instance_id = answer["instance_id"]
    status, _, _ = await post(http_app.app, f"{path}{instance_id}/reset/", key=key)
    assert status == 200
    return instance_id


@pytest.fixture
def keys(keys_on):
    return sync_to_async(new_key)


async def test_without_a_key_the_fast_path_hands_the_request_to_django_for_its_401(keys_on, keys, served):
    fast, django = served
    alice = await keys("alice")
    instance_id = await created(alice)
    answers = [await call(app, "POST", f"/v1/envs/{instance_id}/step/", b'{"action": 0}', headers_for()) for app in (fast, django)]
    assert normalized(answers[0], instance_id) == normalized(answers[1], instance_id)
    status, headers, content = answers[0]
    assert status == 401 and headers["www-authenticate"].startswith("Bearer")
    assert json.loads(content)["code"] == "not_authenticated"
    assert fast.app.calls == 1 and runtime.get(instance_id).episode_steps == 0


async def test_a_key_is_looked_up_by_django_once_then_the_fast_path_answers(keys_on, keys, served):
    fast, _ = served
    alice = await keys("alice")
    instance_id = await created(alice)  # through Django: its key is now in the cache
    access.keys.forget()
    path = f"/v1/envs/{instance_id}/step/"
    assert (await post(fast, path, b'{"action": 0}', alice))[0] == 200
    assert fast.app.calls == 1  # the cache did not know the key: Django looked it up
    for _ in range(3):
        assert (await post(fast, path, b'{"action": 0}', alice))[0] == 200
    assert fast.app.calls == 1  # answered by the fast path
    assert runtime.get(instance_id).episode_steps == 4


async def test_another_keys_instance_is_an_unknown_id_on_the_fast_path(keys_on, keys, served):
    fast, django = served
    alice, bob = await keys("alice"), await keys("bob")
    instance_id = await created(alice)
    await post(fast, f"/v1/envs/{instance_id}/step/", b'{"action": 0}', alice)  # its calls are made on the loop now
    await post(fast, "/v1/envs/x/step/", b'{"action": 0}', bob)  # bob's key in the cache
    unknown = str(uuid.uuid4())
    for action in ("step", "reset"):
        theirs = await call(fast, "POST", f"/v1/envs/{instance_id}/{action}/", b'{"action": 1}', headers_for(bob))
        none = await call(fast, "POST", f"/v1/envs/{unknown}/{action}/", b'{"action": 1}', headers_for(bob))
        through_django = await call(django, "POST", f"/v1/envs/{instance_id}/{action}/", b'{"action": 1}', headers_for(bob))
        assert theirs[0] == 404 and json.loads(theirs[2])["code"] == "instance_not_found"
        assert normalized(theirs, instance_id) == normalized(none, unknown) == normalized(through_django, instance_id)
    live = runtime.get(instance_id)
    assert live.episode_steps == 1 and live.episode_number == 1  # untouched


async def test_another_keys_vector_instance_is_an_unknown_id_on_the_fast_path(keys_on, keys, served):
    fast, _ = served
    alice, bob = await keys("alice"), await keys("bob")
    instance_id = await created(alice, "/v1/vector_envs/", num_envs=2)
    unknown = str(uuid.uuid4())
    theirs = await call(fast, "POST", f"/v1/vector_envs/{instance_id}/step/", b'{"action": [0, 1]}', headers_for(bob))
    none = await call(fast, "POST", f"/v1/vector_envs/{unknown}/step/", b'{"action": [0, 1]}', headers_for(bob))
    assert theirs[0] == 404 and normalized(theirs, instance_id) == normalized(none, unknown)
    assert runtime.get(instance_id).steps == 0
    assert (await post(fast, f"/v1/vector_envs/{instance_id}/step/", b'{"action": [0, 1]}', alice))[0] == 200


@pytest.mark.parametrize(
    "method, body",
    [("POST", b'{"actions": 1}'), ("POST", b"{not json"), ("POST", b'{"action": 7}'), ("PUT", b"{}"),
     ("PATCH", b"{}"), ("OPTIONS", b""), ("GET", b""), ("DELETE", b"")],
)
async def test_any_method_and_body_on_another_keys_instance_answers_as_on_an_unknown_id(keys_on, keys, served, method, body):
    fast, _ = served
    alice, bob = await keys("alice"), await keys("bob")
    instance_id = await created(alice)
    await post(fast, "/v1/envs/x/step/", b'{"action": 0}', bob)  # bob's key in the cache
    unknown = str(uuid.uuid4())
    for action in ("step", "reset"):
        theirs = await call(fast, method, f"/v1/envs/{instance_id}/{action}/", body, headers_for(bob))
        none = await call(fast, method, f"/v1/envs/{unknown}/{action}/", body, headers_for(bob))
        assert theirs[0] == 404 and normalized(theirs, instance_id) == normalized(none, unknown)
    assert runtime.get(instance_id).episode_steps == 0


async def test_a_revoked_key_is_refused_once_its_cache_entry_is_stale(keys_on, keys, served, monkeypatch):
    fast, _ = served
    alice = await keys("alice")
    instance_id = await created(alice)
    path = f"/v1/envs/{instance_id}/step/"
    assert (await post(fast, path, b'{"action": 0}', alice))[0] == 200
    await ApiKey.objects.filter(name="alice").aupdate(revoked_at=timezone.now())  # as another process would
    later = access.time.monotonic() + keys_on.GYMAPI_KEY_CACHE_SECONDS + 0.001
    monkeypatch.setattr(access.time, "monotonic", lambda: later)
    status, headers, body = await post(fast, path, b'{"action": 0}', alice)
    assert (status, body["code"]) == (401, "key_revoked") and "www-authenticate" in headers
    assert runtime.get(instance_id).episode_steps == 1


async def test_the_event_loop_path_checks_the_owner_without_the_database(keys_on, keys, cheap_calls):
    alice = await keys("alice")
    instance_id = await created(alice)
    owner = access.key_caller(await sync_to_async(lambda: ApiKey.objects.get(name="alice").id)())
    await sync_to_async(drive.step)(instance_id, 0)  # an operation runs on the loop once measured in a thread
    steps = runtime.get(instance_id).episode_steps
    # On the loop itself, where a database query would raise SynchronousOnlyOperation:
    stranger = access.key_caller(owner.key_id + 1)
    assert dispatch.call_on_loop(dispatch.STEP, instance_id, {"action": 0}, caller=stranger) is None
    outcome = dispatch.call_on_loop(dispatch.STEP, instance_id, {"action": 0}, caller=owner)
    assert outcome.body["reward"] == 1.0 and runtime.get(instance_id).episode_steps == steps + 1


async def test_keys_off_the_fast_path_answers_without_django_and_ignores_any_key(served):
    fast, _ = served
    instance_id = await created(None)
    for key in (None, "gk_nobody"):
        assert (await post(fast, f"/v1/envs/{instance_id}/step/", b'{"action": 0}', key))[0] == 200
    assert fast.app.calls == 0
