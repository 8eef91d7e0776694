from django.urls import re_path
from rest_framework.routers import DefaultRouter

from .views import EnvViewSet, RegistryViewSet
from .views_episodes import EpisodeViewSet
from .views_errors import json_not_found
from .views_vector import VectorEnvViewSet


class OptionalSlashRouter(DefaultRouter):
    """Every route answers with or without its trailing slash, as clients of
    both older servers expect (and POSTs are never redirected)."""

    # No ``.json``-style suffix routes: the actions take no ``format`` argument,
    # so ``/v1/envs.json`` would be a 500; unknown paths are a JSON 404 instead.
    include_format_suffixes = False

    def __init__(self):
        super().__init__()
        self.trailing_slash = "/?"


router = OptionalSlashRouter()
router.register("envs", EnvViewSet, basename="env")
router.register("registry", RegistryViewSet, basename="registry")
router.register("vector_envs", VectorEnvViewSet, basename="vector_env")
router.register("episodes", EpisodeViewSet, basename="episode")

urlpatterns = router.urls + [
    # Anything else under /v1/ is an API 404 in the API's error shape, DEBUG or not.
    re_path(r"^.*$", json_not_found),
]
