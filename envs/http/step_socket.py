"""The WebSocket step protocol: drive environments over one socket.

``ws/envs/<id>/step/`` drives one instance; ``ws/step/`` drives any number,
each message naming its ``instance_id`` (and may create and close them).
Every message is a JSON object with an ``op``; every answer is the body the
REST route gives, so a client can switch transports without a second parser:

- ``{"op": "step", "action": ...}`` -> the step body of ``POST .../step/``
- ``{"op": "reset", "seed"?, "options"?}`` -> ``{"observation", "info"}``
- ``{"op": "sample"}`` -> ``{"action"}``
- ``{"op": "create", "env_id", ...}`` (``ws/step/`` only) -> ``{"instance_id"}``
- ``{"op": "close"}`` -> ``{"instance_id", "status": "closed"}``

A message may carry an ``id`` of the client's choosing; its answer repeats
it. Answers come in the order the messages were sent. An error is answered
in the API's error shape plus the HTTP ``status`` the REST route would have
given (``{"detail", "code", "status", "fields"?}``), and the socket stays open.

Binary messages are msgpack (``envs.binary``) and are answered in msgpack,
with arrays as raw bytes; text messages are JSON.

When the server requires keys (envs/access.py), the socket names one as
``?key=<key>`` or in its first message, ``{"op": "auth", "key": "<key>"}``
(answered ``{"authenticated": true}``); without a valid one it gets the error
(status 401) and is closed with code 4401. It drives only its key's
instances: another key's id is the 404 of an unknown one. The key is checked
again whenever its cache entry is stale, so a revoked key's socket is closed
within GYMAPI_KEY_CACHE_SECONDS.

Steps and resets go through the one table of operations (http/dispatch.py),
on the event loop when it allows, else in the socket's worker thread; every
other op runs in that thread. Why a plain ASGI app and not a Channels
consumer: a step message is the hottest path of the server, and a consumer
adds a channel-layer subscription and a dispatch per message that the protocol
does not need (nothing is sent to these sockets from elsewhere). Why one
worker thread per socket: it keeps a socket's calls in order.
"""

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor

import orjson
from django.conf import settings
from django.db import connections
from gymapi_client.spaces import encode_any
from rest_framework.exceptions import APIException

from .. import access, binary
from ..errors import ApiError, InvalidInput, RouteNotFound, error_body
from ..runtime import SINGLE
from ..serializers import CreateRequest, StepMessage
from ..services.episodes import action_sample
from ..services.instances import instance_close, instance_create, instance_get
from . import dispatch

MAX_MESSAGE_BYTES = 4 * 1024 * 1024
# Trailing slashes optional, as on /v1.
ROUTE = re.compile(r"^/ws/(?:step|envs/(?P<instance_id>[^/]+)/step)/?$")
HOT = {"step": dispatch.STEP._replace(request=StepMessage), "reset": dispatch.RESET}


def hot(message):
    """``(operation, data)`` of a step or reset message (the body its REST route would take);
    ``(None, None)`` for every other op."""
    op = message.get("op")
    operation = HOT.get(op) if isinstance(op, str) else None
    if operation is None:
        return None, None
    return operation, {key: value for key, value in message.items() if key not in ("op", "id", "instance_id")}


class StepProtocol:
    """The protocol of one socket. ``bound_id`` is the instance of ``ws/envs/<id>/step/``
    (None on ``ws/step/``). Methods that may read the database run in the socket's worker."""

    def __init__(self, bound_id):
        self.bound_id = bound_id
        self.caller = access.ANYONE
        self.key = None  # the key it authenticated with, when keys are required

    def authenticate(self, scope, raw=None, as_binary=False):
        """Keys required: check the ``?key=`` of ``scope``, else the first message ``raw``.

        Returns ``(answer, refused)``: the answer to an ``auth`` message (or
        None), and the error body to close with (or None when authenticated).
        """
        message, key = None, access.query_key(scope)
        if key is None:
            try:
                message = self.decode(raw, as_binary)
            except APIException:
                message = None
            key = access.auth_message_key(message)
        try:
            if key is None:
                raise access.NotAuthenticated()
            self.caller = access.key_caller(access.keys.lookup(key))
        except access.NotAuthenticated as error:
            return None, self.error(error, message)
        self.key = key
        return (self.with_id({"authenticated": True}, message) if message is not None else None), None

    def recheck(self):
        """The socket's key once more, from the database (its cache entry went stale):
        the error body to close with when it was revoked, else None."""
        try:
            access.keys.lookup(self.key)
        except access.NotAuthenticated as error:
            return self.error(error, None)
        return None

    def check_bound(self):
        """An error body (with ``status``) when the bound instance is not served, else None."""
        try:
            access.check_instance(self.caller, self.bound_id)
            instance_get(self.bound_id, SINGLE)
        except ApiError as error:
            return self.error(error, None)
        return None

    async def answer(self, raw, as_binary, worker):
        """The answer (a dict) to one message, on the event loop: steps and resets through
        ``dispatch.answer``, every other op in ``worker``."""
        encode = binary.encode_value if as_binary else encode_any
        if len(raw) > dispatch.LOOP_BODY_BYTES:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(worker, self.answer_in_thread, raw, as_binary, encode)
        message = None
        try:
            message = self.decode(raw, as_binary)
            operation, data = hot(message)
            if operation is None:
                loop = asyncio.get_running_loop()
                answer = await loop.run_in_executor(worker, self.perform, message, encode)
            else:
                outcome = await dispatch.answer(
                    operation, self.instance_id(message), data, caller=self.caller, encode=encode, executor=worker,
                    in_thread=dispatch.call_in_worker,
                )
                answer = outcome.result()
        except Exception as error:  # every error is answered in the API's shape, the socket kept open
            return self.error(error, message)
        return self.with_id(answer, message)

    def answer_in_thread(self, raw, as_binary, encode):
        """``answer`` of a message too large to read on the event loop, in the socket's worker."""
        message = None
        try:
            message = self.decode(raw, as_binary)
            operation, data = hot(message)
            if operation is None:
                answer = self.perform(message, encode)
            else:
                answer = dispatch.call_in_worker(
                    operation, self.instance_id(message), data, caller=self.caller, encode=encode
                ).result()
        except Exception as error:  # every error is answered in the API's shape, the socket kept open
            return self.error(error, message)
        return self.with_id(answer, message)

    def decode(self, raw, as_binary):
        if len(raw) > MAX_MESSAGE_BYTES:
            raise InvalidInput("message", f"at most {MAX_MESSAGE_BYTES} bytes per message")
        try:
            message = binary.loads(raw) if as_binary else orjson.loads(raw)
        except (ValueError, binary.DecodeError) as error:
            kind = "msgpack" if as_binary else "JSON"
            raise InvalidInput("message", f"not valid {kind}: {error}", code="parse_error") from None
        if not isinstance(message, dict):
            raise InvalidInput("message", 'expected an object such as {"op": "step", "action": 0}')
        return message

    def perform(self, message, encode):
        """Run one op other than step and reset (in the socket's worker)."""
        op = message.get("op")
        handler = self.OPS.get(op) if isinstance(op, str) else None
        if handler is None:
            raise InvalidInput("op", f"expected one of {', '.join(sorted([*self.OPS, *HOT]))}; got {op!r}")
        return handler(self, message, encode)

    def instance_id(self, message):
        instance_id = message.get("instance_id", self.bound_id)
        if instance_id is None:
            raise InvalidInput("instance_id", "required on ws/step/ (or connect to ws/envs/<id>/step/)")
        if not isinstance(instance_id, str):
            raise InvalidInput("instance_id", "expected a string")
        if self.bound_id is not None and instance_id != self.bound_id:
            raise InvalidInput("instance_id", f"this socket drives instance {self.bound_id} only; use ws/step/ for others")
        return instance_id

    def owned_instance_id(self, message):
        instance_id = self.instance_id(message)
        access.check_instance(self.caller, instance_id)  # another key's instance: the 404 of an unknown id
        return instance_id

    def op_sample(self, message, encode):
        return {"action": action_sample(instance_id=self.owned_instance_id(message), kind=SINGLE, encode=encode)}

    def op_create(self, message, encode):
        if self.bound_id is not None:
            raise InvalidInput("op", "create is for ws/step/; this socket is bound to one instance")
        fields = {key: value for key, value in message.items() if key not in ("op", "id")}
        serializer = CreateRequest(data=fields)
        serializer.is_valid(raise_exception=True)
        instance = instance_create(kind=SINGLE, **serializer.validated_data, owner_id=self.caller.key_id)
        return {"instance_id": str(instance.id)}

    def op_close(self, message, encode):
        instance_id = self.owned_instance_id(message)
        instance_close(instance_id=instance_id, kind=SINGLE)
        return {"instance_id": instance_id, "status": "closed"}

    def op_auth(self, message, encode):
        # A first auth message is answered by authenticate(); a later one, or
        # one to a server that requires no keys, changes nothing.
        return {"authenticated": self.key is not None}

    OPS = {"sample": op_sample, "create": op_create, "close": op_close, "auth": op_auth}

    @staticmethod
    def with_id(answer, message):
        if isinstance(message, dict) and "id" in message:
            return {**answer, "id": message["id"]}
        return answer

    def error(self, error, message):
        status, body, _ = error_body(error, "the WebSocket step protocol")
        return self.with_id({**body, "status": status}, message)


async def socket_not_found(scope, receive, send):
    """ASGI: refuse the handshake with a 404 in the API's error shape (a plain refusal
    where the server cannot send a response of its own). The last WebSocket route
    (gymapi/asgi.py): Channels' URLRouter raises ValueError for a path it has no route
    for, which the server turns into a 500."""
    if (await receive())["type"] != "websocket.connect":
        return
    if "websocket.http.response" not in scope.get("extensions", {}):
        await send({"type": "websocket.close", "code": 4404})
        return
    _, body, _ = error_body(RouteNotFound(f"No WebSocket route at {scope['path']}."))
    content = orjson.dumps(body)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode())]
    await send({"type": "websocket.http.response.start", "status": 404, "headers": headers})
    await send({"type": "websocket.http.response.body", "body": content})


class StepSocketApp:
    """ASGI: the step sockets answered here, every other WebSocket passed to ``app``."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        match = ROUTE.match(scope["path"]) if scope["type"] == "websocket" else None
        if match is None:
            return await self.app(scope, receive, send)
        if (await receive())["type"] != "websocket.connect":
            return
        await send({"type": "websocket.accept"})
        protocol = StepProtocol(match["instance_id"])
        loop = asyncio.get_running_loop()
        worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ws-step")

        async def reply(answer, as_binary=False):
            if as_binary:
                await send({"type": "websocket.send", "bytes": binary.dumps(answer)})
            else:
                await send({"type": "websocket.send", "text": orjson.dumps(answer).decode()})

        async def refuse(refused, as_binary=False):
            await reply(refused, as_binary)
            await send({"type": "websocket.close", "code": 4000 + refused["status"]})

        try:
            if settings.GYMAPI_REQUIRE_KEYS:
                raw, as_binary = None, False
                if access.query_key(scope) is None:  # the key comes in the first message
                    try:
                        message = await asyncio.wait_for(receive(), settings.GYMAPI_AUTH_TIMEOUT)
                    except asyncio.TimeoutError:
                        return await refuse(protocol.error(access.auth_timed_out(), None))
                    if message["type"] != "websocket.receive":
                        return
                    raw, as_binary = _content(message)
                answer, refused = await loop.run_in_executor(worker, protocol.authenticate, scope, raw, as_binary)
                if refused is not None:
                    return await refuse(refused, as_binary)
                if answer is not None:
                    await reply(answer, as_binary)
            if protocol.bound_id is not None:
                # A socket bound to an instance that is not served says why, then closes.
                refused = await loop.run_in_executor(worker, protocol.check_bound)
                if refused is not None:
                    return await refuse(refused)
            while True:
                message = await receive()
                if message["type"] != "websocket.receive":
                    return  # websocket.disconnect
                raw, as_binary = _content(message)
                if protocol.key is not None and access.keys.peek(protocol.key) is None:
                    refused = await loop.run_in_executor(worker, protocol.recheck)
                    if refused is not None:  # revoked since the socket opened
                        return await refuse(refused, as_binary)
                await reply(await protocol.answer(raw, as_binary, worker), as_binary)
        finally:
            # connections.close_all acts on the calling thread's connections: run it in the
            # worker that opened them.
            await loop.run_in_executor(worker, connections.close_all)
            worker.shutdown(wait=False)


def _content(message):
    """A WebSocket message's content and whether it is binary."""
    raw = message.get("bytes")
    if raw is not None:
        return raw, True
    return message.get("text") or "", False
