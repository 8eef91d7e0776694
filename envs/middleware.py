"""The API key check of every /v1 request that Django serves (envs/access.py says the rules)."""

import re

from django.conf import settings
from rest_framework import status
from rest_framework.authentication import CSRFCheck

from . import access
from .errors import ApiError
from .views_errors import api_error

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# DELETE on these closes an instance: the one change a staff login may make.
INSTANCE_ROUTE = re.compile(r"^/v1/(envs|vector_envs)/[^/]+/?$")


def csrf_refusal(request):
    """Django's CSRF verdict on ``request``: None when it passes, else the reason.

    DRF's views are exempt from Django's check (they expect keys, not cookies);
    a staff session rides on a cookie, so its one change is checked here as
    DRF's SessionAuthentication would.
    """
    check = CSRFCheck(lambda request: None)
    check.process_request(request)  # reads the CSRF cookie for process_view
    return check.process_view(request, None, (), {})


class CsrfRefused(ApiError):
    """A staff session's change without this server's CSRF token: a 403."""

    status_code = status.HTTP_403_FORBIDDEN
    default_code = "csrf_failed"


class ApiKeyMiddleware:
    """Sets ``request.caller`` on /v1 requests, or answers 401 when keys are required and none fits.

    Keys off: every caller is ``access.ANYONE``, and nothing is read. Keys on:
    ``Authorization: Bearer <key>`` names the caller; without it, a logged-in
    active staff user may read (GET) everything; anything else is a 401 in the
    API's error shape with ``WWW-Authenticate: Bearer``. Staff may also close an
    instance (DELETE, with the page's CSRF token): the monitor's tiles do. It sits after
    AuthenticationMiddleware (for the staff user) and after CorsMiddleware,
    which answers CORS preflights before any key is asked for and adds its
    headers to the 401s too, so a page on an allowed origin can read them.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path_info.startswith("/v1/"):
            return self.get_response(request)
        if not settings.GYMAPI_REQUIRE_KEYS:
            request.caller = access.ANYONE
            return self.get_response(request)
        try:
            request.caller = self.caller_of(request)
        except access.NotAuthenticated as error:
            response = api_error(error)
            response["WWW-Authenticate"] = 'Bearer realm="gymapi"'
            return response
        except CsrfRefused as error:
            return api_error(error)
        return self.get_response(request)

    @staticmethod
    def caller_of(request):
        header = request.headers.get("Authorization")
        if header:
            key = access.bearer_key(header)
            if key is None:
                raise access.NotAuthenticated(
                    "Send the API key as 'Authorization: Bearer <key>'.", code="not_authenticated"
                )
            return access.key_caller(access.keys.lookup(key))
        user = request.user
        if user.is_active and user.is_staff:
            if request.method in SAFE_METHODS:
                return access.ANYONE
            if request.method == "DELETE" and INSTANCE_ROUTE.match(request.path_info):
                refusal = csrf_refusal(request)
                if refusal is not None:
                    raise CsrfRefused(f"CSRF check failed: {refusal}. Close instances from this server's own pages.")
                return access.ANYONE
            raise access.NotAuthenticated(
                "A staff login only reads and closes: creating and driving instances take an API key "
                "('Authorization: Bearer <key>').",
                code="key_required",
            )
        raise access.NotAuthenticated()
