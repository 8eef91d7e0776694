"""drf-spectacular postprocessing hooks for what the schema says depending on how the server runs."""

from django.conf import settings

API_KEY_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "An API key (manage.py apikey create NAME): this server requires one (GYMAPI_REQUIRE_KEYS).",
}


def api_key_security(result, generator, request, public):
    """Declare the Bearer API key on every operation when the server requires keys, and none when it
    does not: Swagger UI then shows no padlock on operations that need nothing, nor an Authorize button.

    Read when the schema is made (each request to /openapi.json), so it follows GYMAPI_REQUIRE_KEYS.
    """
    if not settings.GYMAPI_REQUIRE_KEYS:
        return result
    result.setdefault("components", {}).setdefault("securitySchemes", {})["apiKey"] = API_KEY_SCHEME
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            operation["security"] = [{"apiKey": []}]
    return result
