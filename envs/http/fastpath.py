"""A lean way in for the routes agents call millions of times: ``POST /v1/envs/{id}/step/``
and ``reset/``, and the same two of ``/v1/vector_envs/{id}/``.

Under ASGI, Django spends far more on a request than a cheap step costs: a
new thread for each request's thread-sensitive context, a thread hop for each
synchronous middleware, DRF's negotiation and parsing (README, Performance).
This ASGI app sits in front of Django and answers those routes itself through
the one table of operations (http/dispatch.py) that the DRF actions call, with
the same renderer and error shape. It takes only the requests it answers
exactly as Django would (http/parity.py); anything else (another media type, a
body that will not parse, a key to look up, ``?format=``...) goes on to Django
untouched, its body replayed, so errors are worded in one place.
"""

import logging
import re
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus

import orjson
from django.conf import settings
from gymapi_client.spaces import encode_any

from .. import binary
from ..errors import error_body
from ..renderers import render_json, render_msgpack
from . import dispatch
from .parity import MSGPACK, Parity

# The routes as DefaultRouter spells them (lookup_value_regex "[^/]+", optional slash).
ROUTE = re.compile(r"^/v1/(?P<kind>envs|vector_envs)/(?P<instance_id>[^/]+)/(?P<action>step|reset)/?$")
OPERATIONS = {
    ("envs", "step"): dispatch.STEP,
    ("envs", "reset"): dispatch.RESET,
    ("vector_envs", "step"): dispatch.VECTOR_STEP,
    ("vector_envs", "reset"): dispatch.VECTOR_RESET,
}
LONG_NUMBER = re.compile(rb"[0-9]{19}")
# What a response is written in: (value encoder, renderer).
CODECS = {False: (encode_any, render_json), True: (binary.encode_value, render_msgpack)}

request_logger = logging.getLogger("django.request")

# The threads that answer what the event loop leaves to threads. asyncio's
# default pool has cpu + 4 of them: a few slow environments, or calls hung
# until GYMAPI_CALL_TIMEOUT, would hold every one. Threads start only when
# calls are waiting for one.
WORKERS = ThreadPoolExecutor(max_workers=64, thread_name_prefix="fastpath")


class FastPath:
    """ASGI middleware: step and reset answered directly, everything else passed to ``app``."""

    def __init__(self, app):
        self.app = app
        self.parity = Parity()
        self.max_body = settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        match = ROUTE.match(scope["path"])
        taken = None if match is None else self.parity.takes(scope)
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
        if size > dispatch.LOOP_BODY_BYTES:  # parsed and decoded by Django's view, in a thread
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

        operation = OPERATIONS[match.group("kind", "action")]
        encode, render = CODECS[as_msgpack]
        outcome = await dispatch.answer(
            operation, match["instance_id"], data, caller=caller, encode=encode, executor=WORKERS, in_thread=dispatch.call_in_worker
        )
        if outcome.error is None:
            status, content, extra = 200, render(outcome.body), []
        else:
            status, shaped, headers = error_body(outcome.error, f"fast path {operation.kind} {operation.name}")
            content = render(shaped)
            extra = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
            # As Django's log_response does.
            log = request_logger.error if status >= 500 else request_logger.warning
            log("%s: %s", HTTPStatus(status).phrase, scope["path"])
        headers = self.parity.response_headers(scope["path"], as_msgpack, origin, extra)
        headers.append((b"content-length", str(len(content)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})


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
