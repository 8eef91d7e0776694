"""The ASGI fast path for step and reset (envs/fastpath.py) answers exactly as Django does.

Each case sends the same request to two instances created alike: one through
the served application (fast path in front of Django), one through Django
alone, and compares status, headers and body byte for byte.
"""

import asyncio
import json
import re
import uuid

import msgpack
import pytest

from envs.models import Episode

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

JSON = {"content-type": "application/json"}


@pytest.fixture
def apps():
    from gymapi.asgi import http_app

    return {"fast": http_app, "django": http_app.app}


async def call(app, method, path, body=b"", headers=None, query=b""):
    """One HTTP request through an ASGI app: (status, headers dict, body)."""
    headers = {"host": "testserver", **(headers or {})}
    if body:
        headers["content-length"] = str(len(body))
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": query, "root_path": "",
        "headers": [(name.encode(), value.encode()) for name, value in headers.items()],
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
    }
    messages, sent = [], False

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()

    async def send(message):
        messages.append(message)

    await app(scope, receive, send)
    start = messages[0]
    response_headers = {name.decode().lower(): value.decode() for name, value in start["headers"]}
    return start["status"], response_headers, b"".join(message.get("body", b"") for message in messages[1:])


async def pair(apps, seed=3):
    """Two CartPoles created alike: {"fast": id, "django": id}."""
    ids = {}
    for name in apps:
        body = json.dumps({"env_id": "CartPole-v1", "seed": seed}).encode()
        status, _, content = await call(apps["django"], "POST", "/v1/envs/", body, JSON)
        assert status == 201, content
        ids[name] = json.loads(content)["instance_id"]
    return ids


def normalized(answer, instance_id):
    """An answer with what differs between any two requests blanked: ids, times, CSRF tokens, pages."""
    status, headers, content = answer
    headers = {name: re.sub(r"csrftoken=\w+", "csrftoken=*", value) for name, value in headers.items()}
    content = re.sub(rb"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.+Z-]+", b"<time>", content.replace(instance_id.encode(), b"<id>"))
    if headers.get("content-type", "").startswith("text/html"):  # DRF's browsable page: both went to Django
        content = b"<html>"
    return status, headers, content


async def both(apps, ids, action, body=b"", headers=JSON, slash="/", query=b""):
    """The same request on both instances; asserts they are answered alike and returns (status, JSON body)."""
    answers = []
    for name, app in apps.items():
        answer = await call(app, "POST", f"/v1/envs/{ids[name]}/{action}{slash}", body, headers, query)
        answers.append(normalized(answer, ids[name]))
    assert answers[0] == answers[1]
    status, response_headers, content = answers[1]
    return status, json.loads(content) if response_headers.get("content-type") == "application/json" else None


async def test_it_steps_and_resets_as_django_does(apps):
    ids = await pair(apps)
    assert (await both(apps, ids, "step", b'{"action": 0}'))[1]["code"] == "reset_needed"
    status, body = await both(apps, ids, "reset", b'{"seed": 1}')
    assert status == 200 and set(body) == {"observation", "info"}
    for action in (0, 1, 1, 0):
        status, body = await both(apps, ids, "step", b'{"action": %d}' % action)
        assert status == 200 and body["reward"] == 1.0
    assert (await both(apps, ids, "step", b'{"action": 1}', slash=""))[0] == 200
    assert (await both(apps, ids, "reset", b"", headers={}))[0] == 200  # curl -X POST, no body
    assert (await both(apps, ids, "reset", b"null"))[0] == 200


@pytest.mark.parametrize(
    "action, body",
    [
        ("step", b'{"action": 2}'),
        ("step", b"{}"),
        ("step", b'{"action": null}'),
        ("step", b'{"actions": 0}'),
        ("step", b"null"),
        ("step", b"[1]"),
        ("step", b'{"action": [[[0]]]}'),
        ("step", b'{"action": NaN}'),
        ("step", b'{"action": 0'),
        ("step", b'{"action": 123456789012345678901234567890}'),
        ("reset", b'{"seed": "one"}'),
        ("reset", b'{"seed": -1}'),
        ("reset", b'{"options": []}'),
    ],
)
async def test_it_refuses_bad_bodies_as_django_does(apps, action, body):
    ids = await pair(apps)
    await both(apps, ids, "reset", b"{}")
    status, answer = await both(apps, ids, action, body)
    assert status == 400 and set(answer) >= {"detail", "code"}


@pytest.mark.parametrize(
    "headers, query",
    [
        ({"content-type": "text/plain"}, b""),
        ({"content-type": "application/x-www-form-urlencoded"}, b""),
        ({**JSON, "accept": "text/html"}, b""),
        ({**JSON, "accept": "application/json; indent=4"}, b""),
        ({**JSON, "accept": "application/json, */*;q=0.8"}, b""),
        (JSON, b"format=json"),
        ({}, b""),
    ],
)
async def test_it_answers_other_media_types_and_queries_as_django_does(apps, headers, query):
    ids = await pair(apps)
    await both(apps, ids, "reset", b"{}")
    await both(apps, ids, "step", b'{"action": 1}', headers=headers, query=query)


MSGPACK = "application/msgpack"


@pytest.mark.parametrize(
    "action, body, headers",
    [
        ("step", msgpack.packb({"action": 1}), {"content-type": MSGPACK, "accept": MSGPACK}),
        ("step", msgpack.packb({"action": 1}), {"content-type": MSGPACK}),
        ("step", b'{"action": 1}', {**JSON, "accept": MSGPACK}),
        ("step", msgpack.packb({"action": 7}), {"content-type": MSGPACK, "accept": MSGPACK}),
        ("step", b"\xc1", {"content-type": MSGPACK, "accept": MSGPACK}),
        ("step", msgpack.packb([1]), {"content-type": MSGPACK, "accept": MSGPACK}),
        ("step", msgpack.packb({"action": 1}), {"content-type": MSGPACK, "accept": f"{MSGPACK}, */*"}),
        ("reset", msgpack.packb({"seed": 4}), {"content-type": MSGPACK, "accept": MSGPACK}),
        ("reset", b"", {"accept": MSGPACK}),
    ],
)
async def test_it_answers_msgpack_as_django_does(apps, action, body, headers):
    ids = await pair(apps)
    await both(apps, ids, "reset", b"{}")
    answers = []
    for name, app in apps.items():
        answer = await call(app, "POST", f"/v1/envs/{ids[name]}/{action}/", body, headers)
        answers.append(normalized(answer, ids[name]))
    assert answers[0] == answers[1]
    status, response_headers, content = answers[0]
    wants_msgpack = headers.get("accept", "").startswith(MSGPACK)  # DRF honours the first listed
    assert response_headers["content-type"] == (MSGPACK if wants_msgpack else "application/json")
    answer = msgpack.unpackb(content) if wants_msgpack else json.loads(content)
    assert set(answer) >= ({"observation"} if status == 200 else {"detail", "code"})


async def test_it_answers_unknown_and_closed_instances_as_django_does(apps):
    for instance_id in ("not-a-uuid", str(uuid.uuid4())):
        ids = {"fast": instance_id, "django": instance_id}
        assert (await both(apps, ids, "step", b'{"action": 0}'))[0] == 404
        assert (await both(apps, ids, "reset", b"{}"))[0] == 404
    ids = await pair(apps)
    for name in ids:
        assert (await call(apps["django"], "DELETE", f"/v1/envs/{ids[name]}/"))[0] == 200
    status, body = await both(apps, ids, "step", b'{"action": 0}')
    assert status == 410 and body["code"] == "instance_closed"


async def test_it_leaves_disallowed_hosts_to_django(apps):
    ids = await pair(apps)
    status, _ = await both(apps, ids, "reset", b"{}", headers={**JSON, "host": "evil.example"})
    assert status == 400


async def test_it_records_the_episode_at_its_end(apps):
    app = apps["fast"]
    instance_id = (await pair({"fast": app, "django": apps["django"]}))["fast"]
    await call(app, "POST", f"/v1/envs/{instance_id}/reset/", b'{"seed": 1}', JSON)
    steps = 0
    while True:
        status, _, content = await call(app, "POST", f"/v1/envs/{instance_id}/step/", b'{"action": 0}', JSON)
        assert status == 200
        steps += 1
        if json.loads(content)["done"]:
            break
    episode = await Episode.objects.aget(instance_id=instance_id, number=1)
    assert episode.steps == steps and episode.ended_at is not None and episode.terminated
