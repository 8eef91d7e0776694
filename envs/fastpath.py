"""A lean way in for the routes agents call millions of times:
``POST /v1/envs/{id}/step/`` and ``POST /v1/envs/{id}/reset/``, and the same
two of ``/v1/vector_envs/{id}/``.

Under ASGI, Django spends far more on a request than a CartPole step costs:
a new thread for each request's thread-sensitive context, a thread hop for
each synchronous middleware, DRF's negotiation and parsing (profiles and
numbers: README, Performance). This ASGI app sits in front of Django and
answers those two routes itself, with the same serializers, services, codec,
renderer and error handler as the DRF views, in one hop to a worker thread.

It only takes requests it answers exactly as Django would: a JSON or msgpack
body (or none), an ``Accept`` that DRF would answer with JSON or with msgpack
alone, no query string, an allowed host, plain HTTP or no HTTPS-only settings,
and, when keys are required, a Bearer key known valid in the key cache
(envs/access.py: no database on the loop); it adds the CORS headers
django-cors-headers would. Anything else (a missing, unknown or stale key,
whose 401 or lookup Django makes) (another media type, a body that will not parse, ``?format=``...)
goes on to Django untouched, with its body replayed, so errors are worded in
one place.
"""

import asyncio
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from urllib.parse import urlsplit

import orjson
from corsheaders.conf import conf as cors_conf
from corsheaders.middleware import CorsMiddleware
from django.conf import settings
from django.db import connections
from django.http.request import split_domain_port, validate_host

from . import access, binary, inline, services, spaces, vector
from .errors import exception_handler
from .renderers import render_json, render_msgpack
from .serializers import ResetRequest, StepRequest, VectorStepRequest
from .writer import writer

# The routes as DefaultRouter spells them (lookup_value_regex "[^/]+", optional slash).
ROUTE = re.compile(r"^/v1/(?P<kind>envs|vector_envs)/(?P<instance_id>[^/]+)/(?P<action>step|reset)/?$")
LONG_NUMBER = re.compile(rb"[0-9]{19}")
JSON_RANGES = {b"*/*", b"application/*", b"application/json"}
JSON_TYPES = {b"application/json", b"application/json; charset=utf-8", b"application/json;charset=utf-8"}
MSGPACK = binary.CONTENT_TYPE.encode()

request_logger = logging.getLogger("django.request")

# The threads that answer what the event loop leaves to threads. asyncio's
# default pool has cpu + 4 of them (6 here): a few slow environments, or calls
# hung until GYMAPI_CALL_TIMEOUT, would hold every one. Threads start only
# when calls are waiting for one.
WORKERS = ThreadPoolExecutor(max_workers=64, thread_name_prefix="fastpath")


def _validated(serializer_class, data):
    serializer = serializer_class(data=data if data is not None else {})
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def step(instance_id, data, encode):
    # All StepRequest asks of a parsed JSON body is a non-null "action"; building
    # a serializer per step costs a third of the work here, so it only runs to
    # word the error.
    if type(data) is dict and data.get("action") is not None:
        action = data["action"]
    else:
        action = _validated(StepRequest, data)["action"]
    return services.env_step(instance_id=instance_id, action=action, encode=encode)


def reset(instance_id, data, encode):
    return services.env_reset(instance_id=instance_id, **_validated(ResetRequest, data), encode=encode)


def vector_step(instance_id, data, encode):
    if type(data) is dict and data.get("action") is not None:  # as in step()
        action = data["action"]
    else:
        action = _validated(VectorStepRequest, data)["action"]
    return vector.vector_step(instance_id=instance_id, action=action, encode=encode)


def vector_reset(instance_id, data, encode):
    return vector.vector_reset(instance_id=instance_id, **_validated(ResetRequest, data), encode=encode)


# Keyed by ROUTE's (kind, action).
ACTIONS = {
    ("envs", "step"): step,
    ("envs", "reset"): reset,
    ("vector_envs", "step"): vector_step,
    ("vector_envs", "reset"): vector_reset,
}


# What a response is written in: (value encoder, renderer).
CODECS = {False: (spaces.encode_value, render_json), True: (binary.encode_value, render_msgpack)}


def answer_inline(action, instance_id, data, as_msgpack=False, caller=access.ANYONE):
    """``answer`` on the event loop when envs/inline.py allows it: (status, body, headers, write), or None."""
    kind, name = action
    arguments = inline.arguments(name, data)
    if arguments is None:
        return None
    encode, render = CODECS[as_msgpack]
    try:
        result = inline.call(name, instance_id, encode=encode, caller=caller, vector=kind == "vector_envs", **arguments)
    except Exception as error:  # an environment that broke hands back its closing as broken, as "write"
        return (*_error_answer(error, action, render), getattr(error, "write", None))
    if result is None:
        return None
    body, write = result
    return 200, render(body), [], write


def _error_answer(error, action, render):
    response = exception_handler(error, {"view": f"fast path {action}"})
    headers = [
        (name.lower().encode(), value.encode())
        for name, value in response.headers.items()
        if name.lower() != "content-type"
    ]
    return response.status_code, render(response.data), headers


def answer(action, instance_id, data, as_msgpack=False, caller=access.ANYONE):
    """Run one action as the DRF view would (in a worker thread): (status, body, extra headers)."""
    encode, render = CODECS[as_msgpack]
    try:
        access.check_instance(caller, instance_id)  # another key's instance: the 404 of an unknown id
        return 200, render(ACTIONS[action](instance_id, data, encode)), []
    except Exception as error:  # shaped by the one handler, like DRF's handle_exception
        return _error_answer(error, action, render)
    finally:
        release_connections()


def release_connections():
    """Django's request_finished for the few fast requests that touch the database.

    Unlike Django's own request threads, the workers here live as long as the
    server, so each keeps its connection open (at most one per worker, reused
    at each episode's end) instead of connecting and closing around every
    write; a connection is closed only when it broke or was left in a
    transaction, and the next request opens a fresh one.
    """
    for connection in connections.all(initialized_only=True):
        if connection.connection is None:
            continue
        if connection.in_atomic_block or not connection.get_autocommit():
            connection.close()
        elif connection.errors_occurred:
            if connection.is_usable():
                connection.errors_occurred = False
            else:
                connection.close()


def _security_headers():
    """What SecurityMiddleware and XFrameOptionsMiddleware add to a plain-HTTP API response."""
    headers = []
    if settings.X_FRAME_OPTIONS:
        headers.append((b"x-frame-options", settings.X_FRAME_OPTIONS.upper().encode()))
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers.append((b"x-content-type-options", b"nosniff"))
    if settings.SECURE_REFERRER_POLICY:
        policy = settings.SECURE_REFERRER_POLICY
        policy = policy if isinstance(policy, str) else ",".join(policy)
        headers.append((b"referrer-policy", policy.encode()))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        headers.append((b"cross-origin-opener-policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY.encode()))
    return headers


class FastPath:
    """ASGI middleware: step and reset answered directly, everything else passed to ``app``."""

    def __init__(self, app):
        self.app = app
        # django-cors-headers adds "origin" to Vary on the paths it covers (none
        # unless GYMAPI_CORS_ORIGINS is set) and allows the origins it knows.
        self.cors_paths = re.compile(cors_conf.CORS_URLS_REGEX)
        self.cors = CorsMiddleware(lambda request: None)
        self.headers = {}
        for cors in (False, True):
            common = [(b"vary", b"Accept, origin" if cors else b"Accept"), (b"allow", b"POST, OPTIONS")]
            common += _security_headers()
            self.headers[False, cors] = [(b"content-type", b"application/json")] + common
            self.headers[True, cors] = [(b"content-type", MSGPACK)] + common
        allowed = settings.ALLOWED_HOSTS
        if settings.DEBUG and not allowed:
            allowed = [".localhost", "127.0.0.1", "[::1]"]
        self.allowed_hosts = allowed
        # Django redirects to HTTPS or adds HSTS: leave every request to it.
        self.https_settings = settings.SECURE_SSL_REDIRECT or settings.SECURE_HSTS_SECONDS
        self.valid_hosts = {}
        self.max_body = settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        match = ROUTE.match(scope["path"])
        taken = None if match is None else self.takes(scope)
        if taken is None:
            return await self.app(scope, receive, send)
        body_type, as_msgpack, caller, origin = taken

        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            more = message.get("more_body", False)
            if self.max_body is not None and size > self.max_body:  # Django's 413, the rest left unread here
                return await self.app(scope, _replay(b"".join(chunks), receive, more), send)
        body = b"".join(chunks)
        if body and body_type is None:  # a body without a content type: Django's 415
            return await self.app(scope, _replay(body, receive), send)
        if body_type == MSGPACK:
            try:
                data = binary.loads(body) if body else None
            except binary.DecodeError:  # Django's parser words the error
                return await self.app(scope, _replay(body, receive), send)
        else:
            if LONG_NUMBER.search(body):  # orjson would read an integer beyond 64 bits as a float
                return await self.app(scope, _replay(body, receive), send)
            try:
                data = orjson.loads(body) if body else None
            except orjson.JSONDecodeError:  # Django's parse error, or JSON orjson does not take
                return await self.app(scope, _replay(body, receive), send)

        action, instance_id, loop = match.group("kind", "action"), match["instance_id"], asyncio.get_running_loop()
        answered = answer_inline(action, instance_id, data, as_msgpack, caller)
        if answered is None:
            status, content, extra = await loop.run_in_executor(
                WORKERS, answer, action, instance_id, data, as_msgpack, caller
            )
        else:
            status, content, extra, write = answered
            if write is not None:  # the episode's row, before the answer that ended it
                try:
                    await writer.write(write)
                except Exception as error:
                    status, content, extra = _error_answer(error, action, CODECS[as_msgpack][1])
        if status >= 400:  # as Django's log_response does
            log = request_logger.error if status >= 500 else request_logger.warning
            log("%s: %s", HTTPStatus(status).phrase, scope["path"])
        cors = self.cors_paths.match(scope["path"]) is not None
        if cors and origin is not None:
            extra = extra + self.cors_headers(origin)
        headers = self.headers[as_msgpack, cors] + extra + [(b"content-length", str(len(content)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    def takes(self, scope):
        """None when Django might answer otherwise; else ``(body type, answer in msgpack,
        caller, origin)``, the body type being ``b"application/json"``, ``MSGPACK`` or None
        (undeclared), the caller an ``access.Caller``, the origin the Origin header or None."""
        if self.https_settings:
            return None
        host = content_type = accept = authorization = origin = None
        for name, value in scope["headers"]:
            if name == b"host":
                host = value
            elif name == b"content-type":
                content_type = value
            elif name == b"accept":
                accept = value
            elif name == b"authorization":
                authorization = value
            elif name == b"origin":
                origin = value
        if scope.get("query_string"):  # ?format=... and friends
            return None
        if content_type is not None:
            content_type = content_type.lower()
            if content_type in JSON_TYPES:
                content_type = b"application/json"
            elif content_type != MSGPACK:
                return None
        as_msgpack = False
        if accept is not None and not _accepts_json(accept):
            if accept.strip().lower() != MSGPACK:
                return None
            as_msgpack = True
        if host is None or not self.host_allowed(host):
            return None
        caller = access.ANYONE
        if settings.GYMAPI_REQUIRE_KEYS:
            key = access.bearer_key(authorization.decode("latin-1")) if authorization else None
            key_id = access.keys.peek(key) if key else None
            if key_id is None:  # no key, a wrong one, or one to look up: Django's 401 or lookup
                return None
            caller = access.key_caller(key_id)
        return content_type, as_msgpack, caller, origin

    def cors_headers(self, origin):
        """The headers django-cors-headers adds for this Origin on a path it covers (not a preflight:
        those are OPTIONS requests, which Django answers)."""
        origin = origin.decode("latin-1")
        try:
            url = urlsplit(origin)
        except ValueError:
            return []
        if not cors_conf.CORS_ALLOW_ALL_ORIGINS and not self.cors.origin_found_in_white_lists(origin, url):
            return []
        allowed = "*" if cors_conf.CORS_ALLOW_ALL_ORIGINS and not cors_conf.CORS_ALLOW_CREDENTIALS else origin
        headers = [(b"access-control-allow-origin", allowed.encode("latin-1"))]
        if cors_conf.CORS_ALLOW_CREDENTIALS:
            headers.append((b"access-control-allow-credentials", b"true"))
        if cors_conf.CORS_EXPOSE_HEADERS:
            headers.append((b"access-control-expose-headers", ", ".join(cors_conf.CORS_EXPOSE_HEADERS).encode()))
        return headers

    def host_allowed(self, host):
        allowed = self.valid_hosts.get(host)
        if allowed is None:
            domain, _ = split_domain_port(host.decode("latin-1"))
            allowed = bool(domain) and validate_host(domain, self.allowed_hosts)
            if len(self.valid_hosts) < 256:
                self.valid_hosts[host] = allowed
        return allowed


def _accepts_json(accept):
    """An Accept header DRF answers with JSON (no indent or version parameters)."""
    for item in accept.split(b","):
        media_range, _, params = item.strip().partition(b";")
        if media_range.strip().lower() not in JSON_RANGES:
            return False
        for param in params.split(b";") if params else ():
            if param.strip()[:2].lower() != b"q=":
                return False
    return True


def _replay(body, receive, more_body=False):
    """``receive`` with ``body`` (what was read of the request so far) given again first."""
    sent = False

    async def replayed():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": more_body}
        return await receive()

    return replayed
