"""What the fast path must do to answer exactly as Django would: Django's middleware, mirrored.

The fast path (http/fastpath.py) answers step and reset in front of Django.
Its answers must be the ones Django's middleware stack would give, so this
module mirrors that stack, one piece per middleware that touches such a
request: the allowed hosts (CommonMiddleware's host check), the security and
clickjacking headers (SecurityMiddleware, XFrameOptionsMiddleware), CORS
(django-cors-headers), and DRF's content negotiation (JSON or msgpack).

``MIRRORED_MIDDLEWARE`` is the stack mirrored here. When ``settings.MIDDLEWARE``
is any other, the fast path takes nothing and Django answers every request
(envs/tests/test_parity.py fails until this module follows the change).
"""

import re
from urllib.parse import urlsplit

from corsheaders.conf import conf as cors_conf
from corsheaders.middleware import CorsMiddleware
from django.conf import settings
from django.http.request import split_domain_port, validate_host

from .. import access, binary
from ..conf import hot

MIRRORED_MIDDLEWARE = (
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "envs.middleware.ApiKeyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
)

JSON_RANGES = {b"*/*", b"application/*", b"application/json"}
JSON_TYPES = {b"application/json", b"application/json; charset=utf-8", b"application/json;charset=utf-8"}
MSGPACK = binary.CONTENT_TYPE.encode()


class Parity:
    """Django's middleware for the fast path's requests, read from the settings once."""

    def __init__(self):
        # Django redirects to HTTPS or adds HSTS: leave every request to it.
        self.active = tuple(settings.MIDDLEWARE) == MIRRORED_MIDDLEWARE and not (
            settings.SECURE_SSL_REDIRECT or settings.SECURE_HSTS_SECONDS
        )
        allowed = settings.ALLOWED_HOSTS
        if settings.DEBUG and not allowed:
            allowed = [".localhost", "127.0.0.1", "[::1]"]
        self.allowed_hosts = allowed
        self.valid_hosts = {}
        # django-cors-headers adds "origin" to Vary on the paths it covers (none
        # unless GYMAPI_CORS_ORIGINS is set) and allows the origins it knows.
        self.cors_paths = re.compile(cors_conf.CORS_URLS_REGEX)
        self.cors_covered = {}  # path: whether cors_paths covers it
        self.cors = CorsMiddleware(lambda request: None)
        self.headers = {}
        for cors in (False, True):
            common = [(b"vary", b"Accept, origin" if cors else b"Accept"), (b"allow", b"POST, OPTIONS")]
            common += _security_headers()
            self.headers[False, cors] = [(b"content-type", b"application/json")] + common
            self.headers[True, cors] = [(b"content-type", MSGPACK)] + common

    def takes(self, scope):
        """None when Django might answer otherwise; else ``(body type, answer in msgpack,
        caller, origin)``, the body type being ``b"application/json"``, ``MSGPACK`` or None
        (undeclared), the caller an ``access.Caller``, the origin the Origin header or None."""
        if not self.active or scope.get("query_string"):  # ?format=... and friends
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
        if hot.GYMAPI_REQUIRE_KEYS:
            key = access.bearer_key(authorization.decode("latin-1")) if authorization else None
            key_id = access.keys.peek(key) if key else None
            if key_id is None:  # no key, a wrong one, or one to look up: Django's 401 or lookup
                return None
            caller = access.key_caller(key_id)
        return content_type, as_msgpack, caller, origin

    def response_headers(self, path, as_msgpack, origin, extra):
        """Every header of an answer: the middleware's, the answer's own ``extra``, its length."""
        cors = self.cors_covered.get(path)
        if cors is None:  # a regular expression per request costs more than the table
            cors = self.cors_paths.match(path) is not None
            if len(self.cors_covered) < 1024:
                self.cors_covered[path] = cors
        if cors and origin is not None:
            extra = extra + self.cors_headers(origin)
        return self.headers[as_msgpack, cors] + extra

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
