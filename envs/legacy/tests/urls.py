"""The root URLconf of legacy mode, for in-process tests (gymapi/urls.py picks
it at import time from GYMAPI_LEGACY_API, which tests cannot re-run)."""

from django.urls import include, path

urlpatterns = [path("v1/", include("envs.legacy.urls"))]
