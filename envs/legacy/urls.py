"""Legacy mode's /v1 routes (mounted by gymapi/urls.py when GYMAPI_LEGACY_API is on).

Every route answers with or without its trailing slash. After the older API's
routes come the /v1 API's own that do not clash with them (instance detail,
episodes, render, stream, registry), so the watching pages keep working.
"""

from django.urls import re_path

from ..urls import router
from . import views

ID = r"(?P<instance_id>[^/]+)"

urlpatterns = [
    re_path(r"^envs/?$", views.EnvsView.as_view()),
    re_path(rf"^envs/{ID}/reset/?$", views.ResetView.as_view()),
    re_path(rf"^envs/{ID}/step/?$", views.StepView.as_view()),
    re_path(rf"^envs/{ID}/action_space/?$", views.SpaceView.as_view(which="action_space")),
    re_path(rf"^envs/{ID}/action_space/sample/?$", views.ActionSampleView.as_view()),
    re_path(rf"^envs/{ID}/action_space/contains/(?P<x>[^/]+)/?$", views.ActionContainsView.as_view()),
    re_path(rf"^envs/{ID}/observation_space/?$", views.SpaceView.as_view(which="observation_space")),
    re_path(rf"^envs/{ID}/observation_space/contains/?$", views.ObservationContainsView.as_view()),
    re_path(rf"^envs/{ID}/close/?$", views.CloseView.as_view()),
    re_path(rf"^envs/{ID}/monitor/start/?$", views.MonitorStartView.as_view()),
    re_path(rf"^envs/{ID}/monitor/close/?$", views.MonitorCloseView.as_view()),
    re_path(rf"^envs/{ID}/monitor/files/?$", views.MonitorFilesView.as_view()),
    re_path(rf"^envs/{ID}/monitor/files/(?P<name>[^/]+)/?$", views.MonitorFileView.as_view()),
    re_path(r"^shutdown/?$", views.ShutdownView.as_view()),
    *router.urls,
    re_path(r"^.*$", views.not_found),
]
