from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView

from envs.views_errors import json_not_found, v1_without_slash

# Legacy mode answers /v1 as openai/gym-http-api did (envs/legacy/).
API_URLCONF = "envs.legacy.urls" if settings.GYMAPI_LEGACY_API else "envs.urls"

urlpatterns = [
    path("v1/", include(API_URLCONF)),
    re_path(r"^v1$", v1_without_slash),
    path("openapi.json", SpectacularJSONAPIView.as_view(), name="schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="schema", template_name="docs.html"), name="docs"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema", template_name="docs.html")),
    path("admin/", admin.site.urls),
    path("", include("monitor.urls")),
]

handler404 = json_not_found
