"""The ASGI application's routing, once Django is set up (gymapi/asgi.py).

HTTP goes to Django, with the step and reset routes answered in front of it
by the fast path (envs/http/fastpath.py) and static files served by the same
process; WebSockets go to the step sockets (envs/http/step_socket.py) and,
for watching, to Channels' consumers (monitor/routing.py); the lifespan starts
and stops the server (gymapi/lifecycle.py).
"""

from channels.routing import ProtocolTypeRouter, URLRouter
from django.conf import settings
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application
from django.urls import re_path

from envs.http.fastpath import FastPath
from envs.http.step_socket import StepSocketApp, socket_not_found
from monitor.routing import websocket_urlpatterns

from .lifecycle import lifespan


def build():
    """``(application, http_app)``: the whole ASGI application and its HTTP part."""
    # Static files (admin, Swagger UI, pages) are served by this process with DEBUG
    # off too: WhiteNoise's middleware is synchronous, which would cost every API
    # request a thread hop under ASGI. Only paths under STATIC_URL are intercepted.
    http_app = ASGIStaticFilesHandler(get_asgi_application())
    # Not in legacy mode, whose step and reset answer and fail in the older API's shapes.
    if not settings.GYMAPI_LEGACY_API:
        http_app = FastPath(http_app)
    # A path no route takes is refused with a 404 (socket_not_found): Channels'
    # URLRouter would raise ValueError, which the server turns into a 500.
    sockets = StepSocketApp(URLRouter([*websocket_urlpatterns, re_path(r"", socket_not_found)]))
    return ProtocolTypeRouter({"http": http_app, "websocket": sockets, "lifespan": lifespan}), http_app
