"""Who may do what: API keys, the caller behind a request, and whose instances it sees.

With ``GYMAPI_REQUIRE_KEYS`` off (the default) every caller is ``ANYONE``: it
sees and drives every instance, and nothing here reads the database.

With it on (README, Deployment for a team):

- A request to ``/v1`` names its key as ``Authorization: Bearer <key>``
  (checked by ``envs.middleware.ApiKeyMiddleware``; the fast path answers only
  requests whose key is fresh in the cache below and leaves the others to
  Django, so a 401 is worded in one place). A WebSocket names it as
  ``?key=<key>`` or in a first message ``{"op": "auth", "key": ...}``.
- A logged-in staff user (Django's session) reads everything: the GET routes
  and the watch sockets, which is what the monitor pages use. Creating,
  driving and closing instances always take a key.
- Each instance belongs to the key that created it (``EnvInstance.owner``,
  and ``owner_id`` on the live object for the hot path). Any other key gets
  the very 404 an unknown id gets, and does not see it in lists or events.

Keys are looked up by their SHA-256 and the answer is kept in memory for
``GYMAPI_KEY_CACHE_SECONDS`` (10 by default), so that a step reads no
database. A key revoked in the admin of this process stops working at once;
one revoked from another process (``manage.py apikey revoke``) within that time.
"""

import threading
import time
import uuid
from http.cookies import SimpleCookie
from typing import NamedTuple
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework import status

from .errors import ApiError, InstanceNotFound
from .models import ApiKey, EnvInstance
from .runtime import runtime


class Caller(NamedTuple):
    """Who is asking: a key's id, or everyone's view (keys off, or a staff session)."""

    key_id: int | None
    sees_all: bool

    def owns(self, live):
        """Whether this caller may use the live instance ``live`` (no database)."""
        return self.sees_all or live.owner_id == self.key_id


ANYONE = Caller(None, True)


def key_caller(key_id):
    return Caller(key_id, False)


class NotAuthenticated(ApiError):
    status_code = status.HTTP_401_UNAUTHORIZED
    default_code = "not_authenticated"
    default_detail = (
        "This server requires an API key: send it as 'Authorization: Bearer <key>' "
        "(on a WebSocket: ?key=<key> or a first message {\"op\": \"auth\", \"key\": \"<key>\"})."
    )


def auth_timed_out():
    """The 401 of a socket that sent no key within ``GYMAPI_AUTH_TIMEOUT``."""
    return NotAuthenticated(
        f"No key within {settings.GYMAPI_AUTH_TIMEOUT:g} s: send ?key=<key> or, as the first message, "
        '{"op": "auth", "key": "<key>"} (GYMAPI_AUTH_TIMEOUT).'
    )


class TooManyInstances(ApiError):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "key_instance_cap"

    def __init__(self, cap):
        super().__init__(
            f"This API key already has {cap} active instance(s), the most GYMAPI_MAX_INSTANCES_PER_KEY={cap} allows: "
            "close one (DELETE /v1/envs/{id}/ or /v1/vector_envs/{id}/) before creating another."
        )


def _bad_key(revoked):
    if revoked:
        return NotAuthenticated("This API key was revoked.", code="key_revoked")
    return NotAuthenticated("This API key is not valid.", code="invalid_key")


# --- keys ------------------------------------------------------------------------


class KeyCache:
    """Key hash -> (key id or None, revoked, expiry): what the database said, for a short while.

    ``peek`` never reads the database (the event loop calls it); ``lookup``
    reads it when the entry is missing or stale, and notes the key's use.
    Unknown keys are remembered too, so a client retrying a wrong key costs
    one query per period, and the table is emptied when it grows past
    ``MAX_ENTRIES`` (someone trying many keys).
    """

    MAX_ENTRIES = 4096

    def __init__(self):
        self._entries = {}

    def peek(self, key):
        """The id of ``key`` when it is known valid and fresh here, else None (ask ``lookup``)."""
        entry = self._entries.get(ApiKey.hash(key))
        if entry is None or entry[2] < time.monotonic():
            return None
        return entry[0]

    def lookup(self, key):
        """The id of a valid ``key``, or ``NotAuthenticated``. May read the database."""
        digest = ApiKey.hash(key)
        entry = self._entries.get(digest)
        now = time.monotonic()
        if entry is None or entry[2] < now:
            found = ApiKey.objects.filter(hashed_key=digest).values_list("id", "revoked_at").first()
            if found is None:
                entry = (None, False, now + settings.GYMAPI_KEY_CACHE_SECONDS)
            else:
                entry = (None if found[1] else found[0], found[1] is not None, now + settings.GYMAPI_KEY_CACHE_SECONDS)
                if found[1] is None:  # once per period per key and process, not per request
                    ApiKey.objects.filter(pk=found[0]).update(last_used_at=timezone.now())
            if len(self._entries) >= self.MAX_ENTRIES:
                self._entries.clear()
            self._entries[digest] = entry
        if entry[0] is None:
            raise _bad_key(entry[1])
        return entry[0]

    def forget(self):
        """Drop every entry: the next use of each key reads the database (after a revocation)."""
        self._entries.clear()


keys = KeyCache()


def key_revoke(api_key):
    """Revoke ``api_key`` (an ``ApiKey``) now; returns whether it was usable until now."""
    updated = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    keys.forget()
    return bool(updated)


def bearer_key(header):
    """The key of an ``Authorization: Bearer <key>`` header value (str), else None."""
    if not header:
        return None
    scheme, _, key = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return None
    return key.strip()


# --- instances -------------------------------------------------------------------


def check_instance(caller, instance_id):
    """Raise the 404 of an unknown id when ``instance_id`` belongs to another key,
    or to no instance at all.

    Both get it here, before anything else is looked at (the method, the body),
    so that no answer tells another key's instance from an id that does not
    exist: a PUT on an unknown id would otherwise be a 405, an invalid body a
    400, where another key's instance is a 404. The live instance is looked at
    first (no database); the record only for ids not live here.
    """
    if caller.sees_all:
        return
    live = runtime.get(instance_id)
    if live is None:
        try:
            parsed = uuid.UUID(str(instance_id))
        except ValueError:
            raise InstanceNotFound(instance_id) from None
        live = runtime.get(parsed)
    if live is not None:
        owner_id = live.owner_id
    else:
        found = EnvInstance.objects.filter(pk=parsed).values_list("owner_id").first()
        if found is None:
            raise InstanceNotFound(instance_id)
        owner_id = found[0]
    if owner_id != caller.key_id:
        raise InstanceNotFound(instance_id)


_creating = {}
_creating_lock = threading.Lock()


class creation_slot:
    """``with creation_slot(owner_id):`` around a creation, which raises ``TooManyInstances``
    when the key already has ``GYMAPI_MAX_INSTANCES_PER_KEY`` active instances.

    A key's creations are made one at a time while a cap is set, so two
    concurrent ones cannot both pass the count (environments live in this one
    process, so a lock here is enough). No cap, or no key: nothing is done.
    """

    def __init__(self, owner_id):
        self.owner_id = owner_id
        self.lock = None

    def __enter__(self):
        cap = settings.GYMAPI_MAX_INSTANCES_PER_KEY
        if cap is None or self.owner_id is None:
            return self
        with _creating_lock:
            self.lock = _creating.setdefault(self.owner_id, threading.Lock())
        self.lock.acquire()
        try:
            with transaction.atomic():
                active = EnvInstance.objects.active().filter(owner_id=self.owner_id).count()
            if active >= cap:
                raise TooManyInstances(cap)
        except BaseException:
            self.lock.release()
            self.lock = None
            raise
        return self

    def __exit__(self, *exc):
        if self.lock is not None:
            self.lock.release()
        return False


# --- WebSockets ------------------------------------------------------------------


def _header(scope, name):
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def query_key(scope):
    """The ``key`` query parameter of a WebSocket's URL, or None."""
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("key")
    return values[-1] if values else None


def staff_session(scope):
    """Whether the socket comes from a page of this server's own origin, logged in as
    active staff (read from the session cookie; reads the database).

    The Origin must name the Host the socket was opened to: a page of another
    site could otherwise open a socket that the browser sends the cookie with.
    """
    from importlib import import_module

    from django.contrib.auth import get_user
    from django.http import HttpRequest

    origin, host = _header(scope, b"origin"), _header(scope, b"host")
    if not origin or not host or urlsplit(origin).netloc.lower() != host.lower():
        return False
    cookies = SimpleCookie(_header(scope, b"cookie") or "")
    morsel = cookies.get(settings.SESSION_COOKIE_NAME)
    if morsel is None:
        return False
    request = HttpRequest()
    request.session = import_module(settings.SESSION_ENGINE).SessionStore(morsel.value)
    user = get_user(request)
    return bool(user.is_active and user.is_staff)


def socket_caller(scope, *, key=None, session=False):
    """The ``Caller`` of a WebSocket (reads the database; call it in a thread).

    ``key`` (from a first ``auth`` message) or the ``?key=`` parameter names a
    key; without one, with ``session``, a staff session of the same origin
    sees everything. Raises ``NotAuthenticated`` otherwise. Keys off: ``ANYONE``.
    """
    if not settings.GYMAPI_REQUIRE_KEYS:
        return ANYONE
    key = key if key is not None else query_key(scope)
    if key is not None:
        return key_caller(keys.lookup(key))
    if session and staff_session(scope):
        return ANYONE
    raise NotAuthenticated()


def auth_message_key(message):
    """The key of a first message ``{"op": "auth", "key": "..."}``, or None when it is not one."""
    if isinstance(message, dict) and message.get("op") == "auth" and isinstance(message.get("key"), str):
        return message["key"]
    return None


class OwnedInstanceViews:
    """A mixin for DRF views whose routes name an ``instance_id``: another key's
    instance is the 404 of an unknown id, on every route and for every method,
    before the view runs (DRF's ``initial`` comes before the method is looked
    up). ``request.caller`` is set by ``envs.middleware.ApiKeyMiddleware``."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if "instance_id" in kwargs:
            check_instance(request.caller, kwargs["instance_id"])
