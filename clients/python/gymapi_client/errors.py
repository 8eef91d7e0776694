"""The server's errors as exceptions.

Every error the server sends has one shape, ``{"detail", "code"}`` plus
``"fields"`` for invalid input; each becomes a ``GymapiError`` subclass chosen
by its HTTP status, carrying all of it.
"""


class GymapiError(Exception):
    """Base of every error this client raises for the server.

    ``detail`` is the server's message, ``code`` its slug (``invalid_action``,
    ``instance_closed``, ...), ``fields`` the per-field messages of invalid
    input (else ``{}``), ``status`` the HTTP status (``None`` when no answer came).
    """

    def __init__(self, detail, *, code=None, fields=None, status=None):
        super().__init__(detail)
        self.detail = detail
        self.code = code
        self.fields = fields or {}
        self.status = status

    def __str__(self):
        where = f"{self.status} " if self.status else ""
        return f"{where}{self.code or 'error'}: {self.detail}" if self.code or self.status else self.detail


class InvalidRequest(GymapiError, ValueError):
    """400: the request (an action, a seed, a kwarg...) was refused; nothing changed."""


class ResetNeeded(InvalidRequest):
    """400 ``reset_needed``: step or render before the first reset, or after the episode ended."""


class Unauthorized(GymapiError, PermissionError):
    """401: the server requires an API key (``api_key=``) and got none, an unknown one or a revoked one."""


class LimitExceeded(GymapiError):
    """429: a limit of the server was reached (``key_instance_cap``: this key's active instances)."""


class NotFound(GymapiError, LookupError):
    """404: no such instance (or route) on this server."""


class InstanceGone(GymapiError):
    """410: the instance was closed, or lost when the server restarted."""


class ServerError(GymapiError):
    """5xx: the server failed; the message is the server's."""


class ServerUnreachable(GymapiError):
    """No answer: the server is not running at that address, or timed out."""


def error_for(status, body):
    """The exception for an error response's status and JSON body (or ``None`` if it had none)."""
    if not isinstance(body, dict):
        body = {}
    detail = body.get("detail") or body.get("message") or f"HTTP {status}"
    code = body.get("code")
    fields = body.get("fields")
    if status == 401:
        cls = Unauthorized
    elif status == 429:
        cls = LimitExceeded
    elif status == 404:
        cls = NotFound
    elif status == 410:
        cls = InstanceGone
    elif status >= 500:
        cls = ServerError
    elif code == "reset_needed":
        cls = ResetNeeded
    elif 400 <= status < 500:
        cls = InvalidRequest
    else:
        cls = GymapiError
    return cls(str(detail), code=code, fields=fields, status=status)
