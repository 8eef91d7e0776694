"""Django-level error pages: API paths get the API's error shape, others Django's page."""

from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt

from .errors import RouteNotFound, error_body


def api_error(error):
    """A plain Django response of an API error, in the one shape (errors.py)."""
    status, body, headers = error_body(error)
    return JsonResponse(body, status=status, headers=headers)


# CSRF-exempt like the API itself: a POST or DELETE to an unknown /v1 path is
# a JSON 404, not Django's CSRF 403 page.
@csrf_exempt
def json_not_found(request, exception=None):
    """handler404: JSON for /v1/ paths, Django's page elsewhere."""
    if request.path.startswith("/v1/"):
        return api_error(RouteNotFound(f"No route {request.path}."))
    return defaults.page_not_found(request, exception)


@csrf_exempt
def v1_without_slash(request):
    """``/v1`` alone: a browser is sent on to ``/v1/``; any other method gets the API's 404
    (Django's trailing-slash redirect raises a server error for a POST with DEBUG on)."""
    if request.method in ("GET", "HEAD"):
        return HttpResponsePermanentRedirect("/v1/")
    return api_error(RouteNotFound("No route /v1: the API's routes are under /v1/."))
