"""WebSocket routes for driving environments, mounted by gymapi/asgi.py.
Trailing slashes are optional, as on /v1."""

from django.urls import re_path

from . import consumers

websocket_urlpatterns = [
    re_path(r"^ws/step/?$", consumers.StepConsumer.as_asgi()),
    re_path(r"^ws/envs/(?P<instance_id>[^/]+)/step/?$", consumers.StepConsumer.as_asgi()),
]
