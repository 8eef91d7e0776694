"""Hostile inputs on every /v1 route, single and vector: each is a 4xx in the one
error shape (naming the field, where there is one) and leaves everything as it
was: the instances' counters (GET detail), the live instances, and every row
of the database.

One table (``CASES``) runs three ways: through Django's test client, through the
served ASGI application (the fast path for step and reset in front of Django),
and, for what the step protocol carries, over the WebSocket step protocol
(``WS_CASES``). Legacy mode's monitor folders and file names, the other
names a client chooses, are held to the same in envs/legacy/tests/test_monitor.py.
"""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from rest_framework.test import APIClient

from envs.models import EnvInstance, Episode
from envs.runtime import SINGLE, VECTOR, runtime

BIG = settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1
DEEP = "[" * 10_000 + "]" * 10_000  # 10k levels
HUGE_INT = str(2**70)
UNKNOWN = "00000000-0000-0000-0000-000000000000"


class Case:
    """One hostile request and what it must get: ``status``, the error ``code`` and the ``field`` named.
    Cases of one ``group`` (by default their route) run against one world, one after the other."""

    def __init__(self, method, path, body=None, status=400, field=None, code=None, group=None):
        self.method, self.path, self.body = method, path, body
        self.status, self.field, self.code = status, field, code
        self.group = group or f"{method} {path.partition('?')[0]}"

    def __repr__(self):
        return f"{self.method} {self.path} {(self.body or '')[:40]}"


# --- the table -------------------------------------------------------------------------
#
# Paths name the world's instances: {cart} a CartPole mid-episode (one episode
# finished before), {pend} a Pendulum mid-episode (a Box action), {vec} a vector
# of 2 CartPoles, {closed} a closed CartPole.

POST_ROUTES = {
    # route: (a valid body, the field its hostile values go in)
    "/v1/envs/": ('{"env_id": "CartPole-v1"}', "env_id"),
    "/v1/vector_envs/": ('{"env_id": "CartPole-v1", "num_envs": 2}', "num_envs"),
    "/v1/envs/{cart}/reset/": ('{"seed": 1}', "seed"),
    "/v1/envs/{cart}/step/": ('{"action": 0}', "action"),
    "/v1/envs/{pend}/step/": ('{"action": [0.5]}', "action"),
    "/v1/envs/{cart}/action_space/contains/": ('{"x": 0}', "x"),
    "/v1/envs/{cart}/observation_space/contains/": ('{"x": [0, 0, 0, 0]}', "x"),
    "/v1/vector_envs/{vec}/reset/": ('{"seed": 1}', "seed"),
    "/v1/vector_envs/{vec}/step/": ('{"action": [0, 1]}', "action"),
}


def body_cases():
    """What any body can be: nested 10k deep, a bare NaN, over the size limit, not an object."""
    for path, (valid, field) in POST_ROUTES.items():
        yield Case("POST", path, DEEP, code="parse_error")
        yield Case("POST", path, '{"%s": %s}' % (field, DEEP), code="parse_error")
        yield Case("POST", path, '{"%s": NaN}' % field, code="parse_error")
        yield Case("POST", path, '{"%s": [Infinity]}' % field, code="parse_error")
        yield Case("POST", path, valid[:-1] + ', "padding": "' + "x" * BIG + '"}', status=413, code="payload_too_large")
        yield Case("POST", path, "[" + valid + "]", field="non_field_errors")
        yield Case("POST", path, '"%s"' % field, field="non_field_errors")


def field_cases():
    create, vector, cart, pend, vec = "/v1/envs/", "/v1/vector_envs/", "/v1/envs/{cart}", "/v1/envs/{pend}", "/v1/vector_envs/{vec}"
    for path, extra in ((create, ""), (vector, ', "num_envs": 2')):
        cartpole = '"env_id": "CartPole-v1"' + extra
        # Wrong types, huge numbers, non-finite numbers.
        yield Case("POST", path, '{"env_id": true%s}' % extra, field="env_id")
        yield Case("POST", path, '{"env_id": ["CartPole-v1"]%s}' % extra, field="env_id")
        yield Case("POST", path, '{"env_id": {"id": "CartPole-v1"}%s}' % extra, field="env_id")
        yield Case("POST", path, '{"env_id": "%s"%s}' % ("C" * 10_000, extra), field="env_id")
        yield Case("POST", path, '{"env_id": "CartPole-v1\\u0000"%s}' % extra, field="env_id")
        for seed in ('"1"', "1.5", "true", "-1", HUGE_INT, "1e400", '"NaN"', '"Infinity"'):
            yield Case("POST", path, '{%s, "seed": %s}' % (cartpole, seed), field="seed")
        for steps in ('"10"', "0", "-5", "2.5", HUGE_INT, "1e400", '"Infinity"'):
            yield Case("POST", path, '{%s, "max_episode_steps": %s}' % (cartpole, steps), field="max_episode_steps")
        for kwargs in ("[]", '"x"', "5"):
            yield Case("POST", path, '{%s, "kwargs": %s}' % (cartpole, kwargs), field="kwargs")
        yield Case("POST", path, '{%s, "kwargs": {"gravity": 1e400}}' % cartpole, field="kwargs")
        # Ids that would import code, unknown ids, path traversal in the id.
        for env_id in (
            "gymnasium.envs.classic_control.cartpole:CartPoleEnv", "os:system", "builtins:eval",
            "../../../etc/passwd", "ALE/../../../etc/passwd", "/etc/passwd", "..", "CartPole-v1/../x", "",
        ):
            yield Case("POST", path, '{"env_id": %s%s}' % (json.dumps(env_id), extra), field="env_id")
        # Keyword arguments that size an environment or scale its work, out of their family's range.
        for env_id, kwargs, name in (
            ("Hopper-v5", '{"frame_skip": 0}', "frame_skip"), ("Reacher-v5", '{"camera_id": 0}', "camera_id"),
            ("ALE/Pong-v5", '{"frameskip": 1000000000}', "frameskip"), ("MiniGrid-Empty-5x5-v0", '{"size": 16000}', "size"),
            ("FrozenLake-v1", '{"desc": ["SFFG", "FX"]}', "desc"),
        ):
            yield Case("POST", path, '{"env_id": "%s", "kwargs": %s%s}' % (env_id, kwargs, extra), field=f"kwargs.{name}")
        # Unknown keyword arguments, and those that name server files or reserved ones.
        for name in ("nope", "__class__", "xml_file", "model_path", "render_mode", "max_episode_steps"):
            yield Case("POST", path, '{%s, "kwargs": {"%s": "/etc/passwd"}}' % (cartpole, name), field=f"kwargs.{name}")
    for mode in ("../../etc/passwd", "RGB_ARRAY", "x" * 100, "5", "rgb_array/../ansi"):
        yield Case("POST", create, '{"env_id": "CartPole-v1", "render_mode": %s}' % json.dumps(mode), field="render_mode")
    # A window on the server: MuJoCo's aborts the process at the first reset.
    for env_id in ("CartPole-v1", "Hopper-v5", "ALE/Pong-v5", "MiniGrid-Empty-5x5-v0"):
        yield Case("POST", create, '{"env_id": "%s", "render_mode": "human"}' % env_id, field="render_mode")
    for count in ('"2"', "2.0", "true", "0", "257", "-1", HUGE_INT, "1e400", "null"):
        yield Case("POST", vector, '{"env_id": "CartPole-v1", "num_envs": %s}' % count, field="num_envs")
    yield Case("POST", vector, '{"env_id": "CartPole-v1", "num_envs": 2, "kwargs": {"num_envs": 9}}', field="kwargs.num_envs")
    # Sub-environment i is seeded seed + i: the last one's seed must fit a 64-bit row too.
    yield Case("POST", vector, '{"env_id": "CartPole-v1", "num_envs": 2, "seed": %d}' % (2**63 - 1), field="seed")
    yield Case("POST", vector, '{"env_id": "CartPole-v1", "num_envs": 2, "kwargs": {"wrappers": "os.system"}}',
               field="kwargs.wrappers")

    # Actions: wrong types, wrong shapes, non-finite and huge numbers.
    for action in ('"0"', '"left"', "true", "-1", "2", "0.5", HUGE_INT, "1e400", "[0]", "[[0]]", '{"0": 0}',
                   '"NaN"', '"Infinity"', '"-Infinity"', "null"):
        yield Case("POST", f"{cart}/step/", '{"action": %s}' % action, field="action")
    yield Case("POST", f"{cart}/step/", "{}", field="action")
    yield Case("POST", f"{cart}/step/", '{"actions": 0}', field="action")
    for action in ('["NaN"]', '["Infinity"]', '["-Infinity"]', '"NaN"', "[1e400]", "[3.0]", "[-2.5]",
                   f"[{HUGE_INT}]", "[[0.5, 0.5]]", "[0.5, 0.5]", "[]", '["0.5"]', "[true]", '{"a": 1}', "[null]"):
        field = "action[0]" if action in ('["0.5"]', "[true]", "[null]") else "action"
        yield Case("POST", f"{pend}/step/", '{"action": %s}' % action, field=field)
    for action, field in (
        ("[0]", "action"), ("[0, 1, 0]", "action"), ("0", "action"), ('"NaN"', "action"), ("[[0, 1]]", "action"),
        ('[0, "NaN"]', "action[1]"), ('[0, "Infinity"]', "action[1]"), ("[0, 2]", "action[1]"),
        (f"[0, {HUGE_INT}]", "action[1]"), ("[0, 1e400]", "action"), ("[0, true]", "action[1]"),
        ("[0, [1]]", "action[1]"), ("[0, null]", "action[1]"), ('{"0": 0, "1": 1}', "action"),
    ):
        yield Case("POST", f"{vec}/step/", '{"action": %s}' % action, field=field)
    # Far more numbers than the space holds: refused before they are read one by one (and, being
    # large, read off the event loop).
    many = json.dumps([0] * 100_000)
    for path in (f"{pend}/step/", f"{vec}/step/"):
        yield Case("POST", path, '{"action": %s}' % many, field="action")

    # Resets: seeds and options of the wrong type or size.
    for path in (f"{cart}/reset/", f"{vec}/reset/"):
        for seed in ('"1"', "1.5", "true", "-1", HUGE_INT, "1e400", '"NaN"', "[1]"):
            yield Case("POST", path, '{"seed": %s}' % seed, field="seed")
        for options in ("[]", '"x"', "5", "true"):
            yield Case("POST", path, '{"options": %s}' % options, field="options")
        yield Case("POST", path, '{"options": {"low": 1e400}}', field="options")
    yield Case("POST", f"{vec}/reset/", '{"options": {"reset_mask": [true, false]}}', field="options.reset_mask")
    yield Case("POST", f"{vec}/reset/", '{"seed": %d}' % (2**63 - 1), field="seed")

    # Space membership: x is required.
    for which in ("action_space", "observation_space"):
        yield Case("POST", f"{cart}/{which}/contains/", "{}", field="x")
        yield Case("POST", f"{cart}/{which}/contains/", '{"y": 0}', field="x")

    # Query parameters.
    for path in (f"{cart}/episodes/", f"{vec}/episodes/"):
        for limit in ("abc", "-1", "0", "10001", HUGE_INT, "1e400", "NaN", "1.5", "%00"):
            yield Case("GET", f"{path}?limit={limit}", field="limit")
    for sub_env in ("-1", "x", "1e400", "NaN"):
        yield Case("GET", f"{vec}/episodes/?sub_env={sub_env}", field="sub_env")


# Every route of an instance, and what a malformed, unknown, foreign or closed id gets there.
SINGLE_ROUTES = [
    ("GET", ""), ("DELETE", ""), ("POST", "reset/"), ("POST", "step/"), ("GET", "action_space/"),
    ("GET", "observation_space/"), ("GET", "action_space/sample/"), ("POST", "action_space/contains/"),
    ("POST", "observation_space/contains/"), ("GET", "monitor/render/"), ("GET", "monitor/stream/"), ("GET", "episodes/"),
]
VECTOR_ROUTES = [
    ("GET", ""), ("DELETE", ""), ("POST", "reset/"), ("POST", "step/"), ("GET", "action_space/"),
    ("GET", "observation_space/"), ("GET", "action_space/sample/"), ("GET", "episodes/"),
]
BAD_IDS = [
    # Percent-escapes: the test client decodes them (no route, a 404 not_found); a server hands them over as they are.
    ("not-a-uuid", "instance_not_found"), ("..", "instance_not_found"), ("%2e%2e%2fetc%2fpasswd", None),
    ("' OR '1'='1", "instance_not_found"), ("a" * 5000, "instance_not_found"), (UNKNOWN, "instance_not_found"),
    (UNKNOWN[:-1], "instance_not_found"), ("\u00e9\u00e8", "instance_not_found"),
]
BODIES = {"reset/": "{}", "step/": '{"action": 0}', "action_space/contains/": '{"x": 0}',
          "observation_space/contains/": '{"x": 0}'}


def id_cases():
    for prefix, routes, foreign in (("/v1/envs/", SINGLE_ROUTES, "{vec}"), ("/v1/vector_envs/", VECTOR_ROUTES, "{cart}")):
        for method, suffix in routes:
            body = BODIES.get(suffix) if method == "POST" else None
            if suffix == "step/" and prefix == "/v1/vector_envs/":
                body = '{"action": [0, 0]}'
            group = f"ids {method} {prefix}{suffix}"
            for instance_id, code in BAD_IDS:
                yield Case(method, f"{prefix}{instance_id}/{suffix}", body, status=404, code=code, group=group)
            yield Case(method, f"{prefix}{foreign}/{suffix}", body, status=404, code="wrong_instance_kind", group=group)
            if suffix != "episodes/":  # a closed instance keeps its episodes
                closed = "{closed}" if prefix == "/v1/envs/" else "{closed_vec}"
                yield Case(method, f"{prefix}{closed}/{suffix}", body, status=410, code="instance_closed", group=group)
    # Path traversal around the ids: no route, a JSON 404.
    for path in ("/v1/envs/../../etc/passwd", "/v1/envs/{cart}/../../../admin/", "/v1/envs/{cart}/step/../reset/",
                 "/v1/vector_envs/{vec}/../{cart}/step/"):
        yield Case("POST", path, '{"action": 0}', status=404, group="traversal")


CASES = [*body_cases(), *field_cases(), *id_cases()]
GROUPS = {}
for _case in CASES:
    GROUPS.setdefault(_case.group, []).append(_case)


# --- the world and its state ---------------------------------------------------------------


def build_world(client):
    """The instances the table names, created and driven through ``client`` (method, path, body -> (status, json))."""
    def ok(method, path, body=None, status=200):
        got, answer = client(method, path, body)
        assert got == status, (path, got, answer)
        return answer

    world = {}
    world["cart"] = ok("POST", "/v1/envs/", '{"env_id": "CartPole-v1", "seed": 1}', 201)["instance_id"]
    ok("POST", f"/v1/envs/{world['cart']}/reset/", "{}")
    while not ok("POST", f"/v1/envs/{world['cart']}/step/", '{"action": 0}')["done"]:
        pass
    ok("POST", f"/v1/envs/{world['cart']}/reset/", "{}")
    for _ in range(3):
        ok("POST", f"/v1/envs/{world['cart']}/step/", '{"action": 1}')
    world["pend"] = ok("POST", "/v1/envs/", '{"env_id": "Pendulum-v1", "seed": 2}', 201)["instance_id"]
    ok("POST", f"/v1/envs/{world['pend']}/reset/", "{}")
    ok("POST", f"/v1/envs/{world['pend']}/step/", '{"action": [0.5]}')
    world["vec"] = ok("POST", "/v1/vector_envs/", '{"env_id": "CartPole-v1", "num_envs": 2, "seed": 3}', 201)["instance_id"]
    ok("POST", f"/v1/vector_envs/{world['vec']}/reset/", "{}")
    ok("POST", f"/v1/vector_envs/{world['vec']}/step/", '{"action": [0, 1]}')
    world["closed"] = ok("POST", "/v1/envs/", '{"env_id": "CartPole-v1"}', 201)["instance_id"]
    ok("DELETE", f"/v1/envs/{world['closed']}/", None, 200)
    world["closed_vec"] = ok("POST", "/v1/vector_envs/", '{"env_id": "CartPole-v1", "num_envs": 2}', 201)["instance_id"]
    ok("DELETE", f"/v1/vector_envs/{world['closed_vec']}/", None, 200)
    return world


def database_rows():
    return (
        list(EnvInstance.objects.order_by("id").values()),
        list(Episode.objects.order_by("instance_id", "sub_env", "number").values()),
    )


def live_state(client, world):
    """What clients see of the live instances (their counters), and what the runtime holds."""
    state = {"live": sorted(runtime.ids(SINGLE)), "vectors": sorted(runtime.ids(VECTOR))}
    for name in ("cart", "pend"):
        state[name] = client("GET", f"/v1/envs/{world[name]}/", None)
    vector = client("GET", f"/v1/vector_envs/{world['vec']}/", None)
    state["vec"] = (vector[0], {key: vector[1][key] for key in ("steps", "needs_reset", "episodes", "sub_envs", "status")})
    return state


def check_answer(case, status, body, world):
    where = case.path.format(**world)[:120]
    assert status == case.status, (where, case.body and case.body[:200], status, body)
    assert isinstance(body, dict) and set(body) in ({"detail", "code"}, {"detail", "code", "fields"}), (where, body)
    assert isinstance(body["detail"], str) and body["detail"] and isinstance(body["code"], str), body
    if case.code is not None:
        assert body["code"] == case.code, (where, body)
    if case.field is not None:
        assert case.field in body.get("fields", {}), (where, case.field, body)
        assert case.field in body["detail"], (where, body)


# --- Django's test client ------------------------------------------------------------------


@pytest.fixture
def django_client(db):
    api = APIClient()

    def client(method, path, body):
        response = api.generic(method, path, (body or "").encode(), content_type="application/json")
        return response.status_code, response.json() if response.content else None

    return client


def run_group(group, client, world, state):
    """Send each case of ``group``; returns what went wrong, one line per case.
    A case that changed anything is reported, and the next ones compared with the new state."""
    failures = []
    before = state()
    for case in GROUPS[group]:
        status, body = client(case.method, case.path.format(**world), case.body)
        try:
            check_answer(case, status, body, world)
            assert state() == before, "the state changed"
        except AssertionError as error:
            failures.append(f"{case!r}: {error}")
            before = state()
    return failures


@pytest.mark.parametrize("group", GROUPS)
def test_it_refuses_it_through_django_leaving_everything_as_it_was(django_client, group):
    world = build_world(django_client)
    failures = run_group(group, django_client, world, lambda: (live_state(django_client, world), database_rows()))
    assert not failures, "\n".join(failures)


# --- the served ASGI application (the fast path in front of Django) ------------------------------


async def asgi_call(method, path, body):
    """One HTTP request through gymapi.asgi.application: (status, JSON body or None)."""
    from gymapi.asgi import application

    path, _, query = path.partition("?")
    content = (body or "").encode()
    headers = [(b"host", b"testserver"), (b"content-type", b"application/json")]
    if content:
        headers.append((b"content-length", str(len(content)).encode()))
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "", "headers": headers,
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
    }
    # The body in chunks of 64 KB, as a server hands it over.
    chunks = [content[start:start + 65536] for start in range(0, len(content), 65536)] or [b""]
    messages = []

    async def receive():
        if chunks:
            chunk = chunks.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}
        await asyncio.Event().wait()

    async def send(message):
        messages.append(message)

    await application(scope, receive, send)
    content = b"".join(message.get("body", b"") for message in messages[1:])
    return messages[0]["status"], json.loads(content) if content else None


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("group", GROUPS)
async def test_it_refuses_it_through_the_asgi_app_leaving_everything_as_it_was(group):
    loop = asyncio.get_running_loop()
    client = on_loop(loop)

    def state():
        return live_state(client, world), database_rows()

    world = await loop.run_in_executor(None, build_world, client)
    failures = await loop.run_in_executor(None, run_group, group, client, world, state)
    assert not failures, "\n".join(failures)


def on_loop(loop):
    """A synchronous client for ``build_world`` and ``live_state`` that sends each request
    through the ASGI app on ``loop`` (they run in a thread, deciding each request from the last answer)."""

    def client(method, path, body):
        return asyncio.run_coroutine_threadsafe(asgi_call(method, path, body), loop).result(timeout=60)

    return client


async def build_world_async():
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, build_world, on_loop(loop))


async def asgi_state(world):
    loop = asyncio.get_running_loop()
    state = await loop.run_in_executor(None, live_state, on_loop(loop), world)
    return state, await sync_to_async(database_rows)()


# --- the WebSocket step protocol -------------------------------------------------------------

# (socket: "any" for ws/step/, "cart" for ws/envs/{cart}/step/; message text; field or code expected)
WS_CASES = [
    ("any", "{}", "op", None),
    ("any", '{"op": "launch"}', "op", None),
    ("any", '{"op": 5}', "op", None),
    ("any", "[]", "message", None),
    ("any", '"step"', "message", None),
    ("any", DEEP, "message", "parse_error"),
    ("any", '{"op": "step", "instance_id": "{cart}", "action": %s}' % DEEP, "message", "parse_error"),
    ("any", '{"op": "step", "instance_id": "{cart}", "action": NaN}', "message", "parse_error"),
    ("any", '{"op": "step", "instance_id": "{pend}", "action": [Infinity]}', "message", "parse_error"),
    ("any", '{"op": "step", "instance_id": "{cart}", "action": 1e400}', "message", "parse_error"),
    ("any", '{"op": "step", "instance_id": "{cart}", "action": 0, "pad": "%s"}' % ("x" * (4 * 1024 * 1024)), "message", None),
    ("any", '{"op": "step", "action": 0}', "instance_id", None),
    ("any", '{"op": "step", "instance_id": 5, "action": 0}', "instance_id", None),
    ("any", '{"op": "step", "instance_id": ["{cart}"], "action": 0}', "instance_id", None),
    ("any", '{"op": "step", "instance_id": "{cart}"}', "action", None),
    ("cart", '{"op": "step", "instance_id": "{pend}", "action": [0.0]}', "instance_id", None),
    ("cart", '{"op": "close", "instance_id": "{pend}"}', "instance_id", None),
    ("cart", '{"op": "reset", "instance_id": "{pend}"}', "instance_id", None),
    ("cart", '{"op": "create", "env_id": "CartPole-v1"}', "op", None),
    ("any", '{"op": "create", "env_id": "os:system"}', "env_id", "env_id_not_allowed"),
    ("any", '{"op": "create", "env_id": "gymnasium.envs.classic_control.cartpole:CartPoleEnv"}', "env_id", None),
    ("any", '{"op": "create", "env_id": "../../../etc/passwd"}', "env_id", None),
    ("any", '{"op": "create", "env_id": "CartPole-v1", "kwargs": {"nope": 1}}', "kwargs.nope", None),
    ("any", '{"op": "create", "env_id": "CartPole-v1", "kwargs": {"xml_file": "/etc/passwd"}}', "kwargs.xml_file", None),
    ("any", '{"op": "create", "env_id": "Hopper-v5", "render_mode": "human"}', "render_mode", None),
    ("any", '{"op": "create", "env_id": "CartPole-v1", "seed": %s}' % HUGE_INT, "seed", None),
    ("any", '{"op": "create", "env_id": "CartPole-v1", "seed": "1"}', "seed", None),
    ("any", '{"op": "create", "env_id": true}', "env_id", None),
    ("any", '{"op": "reset", "instance_id": "{cart}", "seed": -1}', "seed", None),
    ("any", '{"op": "reset", "instance_id": "{cart}", "seed": 1.5}', "seed", None),
    ("any", '{"op": "reset", "instance_id": "{cart}", "options": []}', "options", None),
    *[("any", '{"op": "step", "instance_id": "{cart}", "action": %s}' % action, "action", "invalid_action")
      for action in ('"0"', "true", "2", "-1", HUGE_INT, "[0]", '"NaN"', '"Infinity"', "null")],
    *[("cart", '{"op": "step", "action": %s}' % action, "action", "invalid_action") for action in ('"NaN"', "2", "[[0]]")],
    # Read in the socket's worker, being large: the same answers as on the loop.
    ("any", '{"op": "step", "instance_id": "{pend}", "action": %s}' % json.dumps([0] * 100_000), "action", "invalid_action"),
    ("cart", '{"op": "step", "action": %s}' % json.dumps([0] * 100_000), "action", "invalid_action"),
    ("any", '{"op": "reset", "instance_id": "{cart}", "seed": -1, "pad": "%s"}' % ("x" * 100_000), "seed", None),
    *[("any", '{"op": "step", "instance_id": "{pend}", "action": %s}' % action, "action", "invalid_action")
      for action in ('["NaN"]', '["Infinity"]', "[3.0]", "[0.5, 0.5]", '"NaN"', "[[0.5, 0.5]]")],
    *[("any", '{"op": "%s", "instance_id": "%s"%s}' % (op, instance_id, ', "action": 0' if op == "step" else ""), None, code)
      for op in ("step", "reset", "sample", "close")
      for instance_id, code in (("not-a-uuid", "instance_not_found"), ("..", "instance_not_found"),
                                (UNKNOWN, "instance_not_found"), ("{vec}", "wrong_instance_kind"),
                                ("{closed}", "instance_closed"))],
]


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("socket", ["any", "cart"])
async def test_it_refuses_it_over_the_step_socket_leaving_everything_as_it_was(socket):
    from gymapi.asgi import application

    world = await build_world_async()
    before = await asgi_state(world)
    path = "/ws/step/" if socket == "any" else f"/ws/envs/{world[socket]}/step/"
    communicator = WebsocketCommunicator(application, path)
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    failures = []
    try:
        for kind, message, field, code in WS_CASES:
            if kind != socket:
                continue
            for name, value in world.items():
                message = message.replace("{%s}" % name, value)
            await communicator.send_to(text_data=message)
            answer = json.loads((await communicator.receive_output(10))["text"])
            try:
                assert 400 <= answer.pop("status", 0) < 500, answer
                assert set(answer) in ({"detail", "code"}, {"detail", "code", "fields"}), answer
                if field is not None:
                    assert field in answer.get("fields", {}), answer
                if code is not None:
                    assert answer["code"] == code, answer
                assert await asgi_state(world) == before, "the state changed"
            except AssertionError as error:
                failures.append(f"{message[:100]}: {error}")
                before = await asgi_state(world)
    finally:
        await communicator.disconnect()
    assert not failures, "\n".join(failures)


# --- values that are a question, not an error -----------------------------------------------------


@pytest.mark.parametrize(
    "which, x",
    [
        ("action_space", '"NaN"'), ("action_space", HUGE_INT), ("action_space", "1e400"), ("action_space", "[0]"),
        ("action_space", '"../../etc/passwd"'), ("observation_space", '["NaN", 0, 0, 0]'),
        ("observation_space", '["Infinity", 0, 0, 0]'), ("observation_space", "[[0, 0], [0, 0]]"),
        ("observation_space", f"[{HUGE_INT}, 0, 0, 0]"), ("observation_space", "null"), ("observation_space", '{"a": 1}'),
    ],
)
def test_it_answers_a_hostile_value_to_contains_with_not_a_member(django_client, which, x):
    world = build_world(django_client)
    before = live_state(django_client, world), database_rows()
    status, body = django_client("POST", f"/v1/envs/{world['cart']}/{which}/contains/", '{"x": %s}' % x)
    # 1e400 reads as infinity, which JSONField refuses as not JSON, and x may not be null: a 400 naming x.
    if x in ("1e400", "null"):
        assert status == 400 and "x" in body["fields"]
    else:
        assert (status, body) == (200, {"member": False})
    assert (live_state(django_client, world), database_rows()) == before


@pytest.mark.parametrize("spell", [str.upper, lambda id_: id_.replace("-", ""), "{{{}}}".format, "urn:uuid:{}".format])
def test_it_takes_another_spelling_of_a_live_id_for_that_instance(django_client, spell):
    world = build_world(django_client)
    before = database_rows()
    for kind, name in (("envs", "cart"), ("vector_envs", "vec")):
        status, body = django_client("GET", f"/v1/{kind}/{spell(world[name])}/", None)
        assert (status, body["instance_id"], body["status"]) == (200, world[name], "active")
    assert database_rows() == before  # nothing marked lost
    assert django_client("GET", "/v1/envs/", None)[1] == {world["cart"]: "CartPole-v1", world["pend"]: "Pendulum-v1"}
