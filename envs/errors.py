"""Domain errors and the one handler that shapes every error response.

Every failure, ours or DRF's, leaves as ``{"detail": "...", "code": "..."}``;
validation errors add ``"fields"``: ``{field: [messages]}``.
"""

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response

logger = logging.getLogger(__name__)


class ApiError(exceptions.APIException):
    """Base class of the errors services raise; each names its status and code."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "bad_request"
    default_detail = "Bad request."

    def __init__(self, detail=None, code=None, fields=None):
        super().__init__(detail, code)
        self.fields = fields


class InstanceNotFound(ApiError):
    status_code = status.HTTP_404_NOT_FOUND
    default_code = "instance_not_found"

    def __init__(self, instance_id):
        super().__init__(f"Instance {instance_id} is unknown.")


class WrongInstanceKind(ApiError):
    """A vector instance's id on a /v1/envs/ route, or a single instance's on /v1/vector_envs/."""

    status_code = status.HTTP_404_NOT_FOUND
    default_code = "wrong_instance_kind"

    def __init__(self, instance_id, *, vector):
        if vector:
            message = f"Instance {instance_id} is a vector environment: use /v1/vector_envs/{instance_id}/."
        else:
            message = f"Instance {instance_id} is a single environment, not a vector one: use /v1/envs/{instance_id}/."
        super().__init__(message)


class InstanceElsewhere(ApiError):
    """An instance another server process sharing this database holds: only it can serve it."""

    status_code = status.HTTP_404_NOT_FOUND
    default_code = "instance_elsewhere"

    def __init__(self, instance_id, process):
        host, _, rest = process.partition(":")
        super().__init__(
            f"Instance {instance_id} is held by another server process (pid {rest.partition(':')[0]} on {host}) "
            "that shares this database: ask that server."
        )


class InstanceGone(ApiError):
    """The instance existed but is no longer served: closed, lost in a restart,
    reaped for being idle, or broken (its environment raised or hung)."""

    status_code = status.HTTP_410_GONE
    default_code = "instance_gone"

    def __init__(self, instance_id, status_name, when=None, reason=""):
        at = f" at {when.isoformat()}" if when else ""
        if status_name == "closed":
            message = f"was closed{at}"
        elif status_name == "lost":
            why = f" ({reason})" if reason else ""
            message = f"was lost when the server restarted{why}; its recorded episodes are kept"
        elif status_name == "reaped":
            message = f"was reaped for being idle ({reason or 'untouched too long'}){at}; its recorded episodes are kept"
        elif status_name == "broken":
            message = f"broke and was closed{at}: {reason or 'its environment failed'}"
        else:
            message = f"is {status_name}"
        super().__init__(f"Instance {instance_id} {message}.", code=f"instance_{status_name}")


class InstanceSuspended(ApiError):
    """The instance's server stopped with it suspended: the next server to start on its host
    rebuilds it (services/resume.py)."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "instance_suspended"
    wait = 5  # seconds, as Retry-After

    def __init__(self, instance_id):
        super().__init__(
            f"Instance {instance_id} is suspended: its server stopped, and the next server to start on its host "
            "takes it up where it was; nothing was changed. Try again shortly."
        )


class InvalidInput(ApiError):
    """A request field holds a value the server cannot use."""

    default_code = "invalid"

    def __init__(self, field, message, code=None):
        super().__init__(f"{field}: {message}", code=code, fields={field: [message]})


class ResetNeeded(ApiError):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "reset_needed"


class PayloadTooLarge(ApiError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"

    def __init__(self):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        super().__init__(f"The request body is larger than the server accepts: at most {limit} bytes (GYMAPI_MAX_BODY_BYTES).")


class EnvError(ApiError):
    """The environment itself raised while handling a valid request."""

    default_code = "env_error"


class EnvBroken(EnvError):
    """The environment raised where it must not (README, Limits): the instance
    is marked broken and closed, and later calls are 410 ``instance_broken``."""


class EnvTimeout(ApiError):
    """A call into the environment ran past ``GYMAPI_CALL_TIMEOUT`` and was abandoned;
    the instance is marked broken and closed."""

    status_code = status.HTTP_504_GATEWAY_TIMEOUT
    default_code = "env_timeout"


class ServerFull(ApiError):
    """Creating would take the server past ``GYMAPI_MAX_INSTANCES`` environments
    (the per-key cap is ``access.TooManyInstances``)."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "too_many_instances"

    def __init__(self, *, cap, held, count):
        what = "another instance" if count == 1 else f"a vector instance of {count} environments"
        super().__init__(
            f"This server holds {held} environment(s) and allows at most {cap} (GYMAPI_MAX_INSTANCES; a vector "
            f"instance counts as its num_envs), so {what} cannot be created now: close instances you no longer use "
            "(DELETE /v1/envs/{id}/ or /v1/vector_envs/{id}/); idle ones are also closed after GYMAPI_IDLE_SECONDS."
        )


class DatabaseUnavailable(ApiError):
    """The database cannot be reached (or too many episode rows wait for it); nothing was changed."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "database_unavailable"
    default_detail = "The server's database cannot be reached right now; nothing was changed. Try again shortly."
    wait = 5  # seconds, as Retry-After


class EpisodeNotFound(ApiError):
    """An episode id that is not recorded, or whose instance belongs to another key."""

    status_code = status.HTTP_404_NOT_FOUND
    default_code = "episode_not_found"

    def __init__(self, episode_id):
        super().__init__(f"Episode {episode_id} is unknown.")


class NotReplayable(ApiError):
    """An episode that cannot be replayed (README, Episodes): the code says why."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "not_replayable"


class ReplayTimeout(ApiError):
    """A replay or a video render that ran past ``GYMAPI_REPLAY_TIMEOUT``."""

    status_code = status.HTTP_504_GATEWAY_TIMEOUT
    default_code = "replay_timeout"


class RuntimeUnavailable(ApiError):
    """Where the environments live cannot be reached (the Ray cluster's head gone, say)."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "runtime_unavailable"
    wait = 5  # seconds, as Retry-After

    def __init__(self, why):
        super().__init__(f"The environments cannot be reached right now ({why}); nothing was changed. Try again shortly.")


class ClusterFull(ApiError):
    """No node of the Ray cluster has the CPUs an instance's actor reserves free right now."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "cluster_full"
    wait = 5  # seconds, as Retry-After

    def __init__(self, num_cpus, free):
        super().__init__(
            f"The Ray cluster has {free:g} CPUs free and this instance's actor reserves num_cpus={num_cpus:g} "
            "(GYMAPI_RAY_NUM_CPUS unless the request says num_cpus); nothing was created. End instances, "
            "ask for fewer CPUs or add nodes, and try again."
        )


class Relayed(ApiError):
    """An error shaped where it happened (an instance's Ray actor), passed on as it was."""

    def __init__(self, status_code, body, headers=None):
        super().__init__(body["detail"], body["code"], body.get("fields"))
        self.status_code = status_code
        if headers and "Retry-After" in headers:  # a 503's wait, said again by the front
            self.wait = int(headers["Retry-After"])


class RouteNotFound(ApiError):
    """A path (or a WebSocket path) no route takes."""

    status_code = status.HTTP_404_NOT_FOUND
    default_code = "not_found"


class ServerError(ApiError):
    """What a client is told of an error of the server's own (the error itself is logged)."""

    status_code = status.HTTP_500_INTERNAL_SERVER_ERROR
    default_code = "server_error"
    default_detail = "Internal server error."


def _flatten(detail, prefix=""):
    """DRF's nested error detail to ``{"field.sub": ["message", ...]}``."""
    fields = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            fields.update(_flatten(value, name))
    elif isinstance(detail, list) and detail and all(isinstance(item, (dict, list)) for item in detail):
        for index, value in enumerate(detail):
            fields.update(_flatten(value, f"{prefix}[{index}]"))
    else:
        items = detail if isinstance(detail, list) else [detail]
        fields[prefix or "non_field_errors"] = [str(item) for item in items]
    return fields


def error_body(exc, where="the server"):
    """``(status, body, headers)`` for any exception: the one error shape.

    Every error body is built here, whichever way the request came in (DRF's
    handler below, the fast path, the step and watch sockets, Django's own error
    views). An exception that is not the API's own is logged and answered as a 500.
    """
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):  # raised by Django when DRF reads the body
        exc = PayloadTooLarge()
    elif isinstance(exc, (OperationalError, InterfaceError)):  # the database went away
        logger.warning("The database could not be reached in %s: %s", where, exc)
        exc = DatabaseUnavailable()
    if not isinstance(exc, exceptions.APIException):
        logger.error("Unhandled error in %s", where, exc_info=exc)
        exc = ServerError()
    headers = {}
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        summary = "; ".join(f"{name}: {' '.join(messages)}" for name, messages in fields.items())
        body = {"detail": summary or "Invalid input.", "code": "invalid", "fields": fields}
    else:
        codes = exc.get_codes()
        body = {"detail": str(exc.detail), "code": codes if isinstance(codes, str) else "error"}
        if getattr(exc, "fields", None):
            body["fields"] = exc.fields
    return exc.status_code, body, headers


def exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: every error leaves in the one shape."""
    status_code, body, headers = error_body(exc, context.get("view"))
    return Response(body, status=status_code, headers=headers)


class ReplaysBusy(ApiError):
    """Every replay slot of this server process (``GYMAPI_MAX_REPLAYS``) is taken by a replay or a video render."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "replays_busy"
    wait = 5  # seconds, as Retry-After

    def __init__(self, cap):
        super().__init__(
            f"This server is already running {cap} replay(s) or video render(s), as many as it runs at once "
            "(GYMAPI_MAX_REPLAYS); nothing was started. Try again shortly."
        )
