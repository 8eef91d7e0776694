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

Why a thread per socket: environment calls and the episode records they
write are synchronous and may be slow (a MuJoCo step, an Atari frame), so they
run off the event loop; one dedicated worker keeps a socket's calls in order
and spares each step the cost of a shared pool's hand-offs.
"""

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

import orjson
from channels.generic.websocket import AsyncWebsocketConsumer
from django.db import close_old_connections, connections
from rest_framework.exceptions import APIException, ValidationError

from . import binary, services
from .errors import ApiError, InvalidInput, error_body
from .serializers import CreateRequest, ResetRequest
from .spaces import encode_value

logger = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 4 * 1024 * 1024


def _validated(serializer_class, message):
    serializer = serializer_class(data={key: value for key, value in message.items() if key not in ("op", "id")})
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class StepConsumer(AsyncWebsocketConsumer):
    """One socket driving environments; see the module docstring for the protocol."""

    async def connect(self):
        self.bound_id = self.scope["url_route"]["kwargs"].get("instance_id")
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ws-step")
        await self.accept()
        if self.bound_id is not None:
            # A socket bound to an instance that is not served says why, then closes.
            try:
                await self.in_worker(services.live_get, self.bound_id)
            except ApiError as error:
                status, body, _ = error_body(error)
                await self.send(text_data=orjson.dumps({**body, "status": status}).decode())
                await self.close(code=4000 + status)

    async def disconnect(self, code):
        worker, self.worker = self.worker, None
        if worker is not None:
            # The worker's thread owns a database connection: close it there
            # (connections.close_all acts on the calling thread's connections).
            await asyncio.get_running_loop().run_in_executor(worker, connections.close_all)
            worker.shutdown(wait=False)

    async def in_worker(self, function, *args):
        return await asyncio.get_running_loop().run_in_executor(self.worker, function, *args)

    async def receive(self, text_data=None, bytes_data=None):
        as_binary = bytes_data is not None
        size = len(bytes_data) if as_binary else len(text_data)
        if size > MAX_MESSAGE_BYTES:
            answer = self.error(InvalidInput("message", f"at most {MAX_MESSAGE_BYTES} bytes per message"), None)
        else:
            answer = await self.in_worker(self.handle, bytes_data if as_binary else text_data, as_binary)
        if as_binary:
            await self.send(bytes_data=binary.dumps(answer))
        else:
            await self.send(text_data=orjson.dumps(answer).decode())

    # --- in the worker thread -------------------------------------------------

    def handle(self, raw, as_binary):
        """Decode one message, run its op, and return the answer (a dict)."""
        message = None
        try:
            message = self.decode(raw, as_binary)
            answer = self.perform(message, binary.encode_value if as_binary else encode_value)
        except APIException as error:
            return self.error(error, message)
        except Exception:
            logger.exception("Unhandled error in the WebSocket step protocol")
            close_old_connections()
            answer = {"detail": "Internal server error.", "code": "server_error", "status": 500}
            return self.with_id(answer, message)
        return self.with_id(answer, message)

    def decode(self, raw, as_binary):
        try:
            message = binary.loads(raw) if as_binary else orjson.loads(raw)
        except (ValueError, binary.DecodeError) as error:
            kind = "msgpack" if as_binary else "JSON"
            raise InvalidInput("message", f"not valid {kind}: {error}", code="parse_error") from None
        if not isinstance(message, dict):
            raise InvalidInput("message", 'expected an object such as {"op": "step", "action": 0}')
        return message

    # Not "dispatch": that name is the consumer base class's router of ASGI events.
    def perform(self, message, encode):
        op = message.get("op")
        handler = self.OPS.get(op) if isinstance(op, str) else None
        if handler is None:
            raise InvalidInput("op", f"expected one of {', '.join(sorted(self.OPS))}; got {op!r}")
        return handler(self, message, encode)

    def instance_id(self, message):
        instance_id = message.get("instance_id", self.bound_id)
        if instance_id is None:
            raise InvalidInput("instance_id", "required on ws/step/ (or connect to ws/envs/<id>/step/)")
        if not isinstance(instance_id, str):
            raise InvalidInput("instance_id", "expected a string")
        return instance_id

    def op_step(self, message, encode):
        if "action" not in message:
            raise ValidationError({"action": ["This field is required."]})
        return services.env_step(instance_id=self.instance_id(message), action=message["action"], encode=encode)

    def op_reset(self, message, encode):
        data = _validated(ResetRequest, {k: v for k, v in message.items() if k != "instance_id"})
        return services.env_reset(instance_id=self.instance_id(message), **data, encode=encode)

    def op_sample(self, message, encode):
        return {"action": services.action_sample(instance_id=self.instance_id(message), encode=encode)}

    def op_create(self, message, encode):
        if self.bound_id is not None:
            raise InvalidInput("op", "create is for ws/step/; this socket is bound to one instance")
        instance = services.env_create(**_validated(CreateRequest, message))
        return {"instance_id": str(instance.id)}

    def op_close(self, message, encode):
        instance_id = self.instance_id(message)
        services.env_close(instance_id=instance_id)
        return {"instance_id": instance_id, "status": "closed"}

    OPS = {"step": op_step, "reset": op_reset, "sample": op_sample, "create": op_create, "close": op_close}

    @staticmethod
    def with_id(answer, message):
        if isinstance(message, dict) and "id" in message:
            return {**answer, "id": message["id"]}
        return answer

    def error(self, error, message):
        status, body, _ = error_body(error)
        return self.with_id({**body, "status": status}, message)
