"""WebSocket routes, mounted by gymapi/asgi.py. Trailing slashes are optional, as on /v1."""

from django.urls import re_path

from . import consumers

websocket_urlpatterns = [
    re_path(r"^ws/envs/?$", consumers.ServerConsumer.as_asgi()),
    re_path(r"^ws/envs/(?P<instance_id>[^/]+)/?$", consumers.InstanceConsumer.as_asgi()),
]
