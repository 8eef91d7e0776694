"""The API key check of every /v1 request that Django serves (envs/access.py says the rules)."""

from django.conf import settings

from . import access
from .views_errors import api_error

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class ApiKeyMiddleware:
    """Sets ``request.caller`` on /v1 requests, or answers 401 when keys are required and none fits.

    Keys off: every caller is ``access.ANYONE``, and nothing is read. Keys on:
    ``Authorization: Bearer <key>`` names the caller; without it, a logged-in
    active staff user may read (GET) everything; anything else is a 401 in the
    API's error shape with ``WWW-Authenticate: Bearer``. It sits after
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
            raise access.NotAuthenticated(
                "A staff login only reads: creating, driving and closing instances take an API key "
                "('Authorization: Bearer <key>').",
                code="key_required",
            )
        raise access.NotAuthenticated()
