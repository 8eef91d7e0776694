"""ASGI entry point: HTTP through Django (step and reset through a fast path), WebSockets through Channels (step sockets through envs/step_socket.py)."""

import gc
import logging
import os
import threading

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gymapi.settings")

# Django first: it sets up the apps that the routing below imports.
django_asgi_app = get_asgi_application()

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

# Static files (admin, Swagger UI, pages) are served by the same process with
# DEBUG off too: the server is one process holding the environments, and
# WhiteNoise's middleware is synchronous, which would cost every API request a
# thread hop under ASGI. Only paths under STATIC_URL are intercepted.
http_app = ASGIStaticFilesHandler(django_asgi_app)

from django.conf import settings  # noqa: E402

from envs.fastpath import FastPath  # noqa: E402

# Step and reset, the routes agents call millions of times, skip Django's
# per-request machinery; they are answered by the same services (envs/fastpath.py).
# Not in legacy mode, whose step and reset answer and fail in the older API's shapes.
if not settings.GYMAPI_LEGACY_API:
    http_app = FastPath(http_app)

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from django.db import DatabaseError  # noqa: E402

from django.urls import re_path  # noqa: E402

from envs.step_socket import StepSocketApp, socket_not_found  # noqa: E402
from envs.services import instances_mark_lost  # noqa: E402
from monitor.routing import websocket_urlpatterns  # noqa: E402

logger = logging.getLogger("gymapi")


def _mark_lost_at_startup():
    # Run in a thread of its own: a server may import this module from inside
    # its event loop, where Django refuses synchronous database calls.
    def run():
        try:
            count = instances_mark_lost()
        except DatabaseError as error:  # not migrated yet: nothing to mark
            logger.warning("Could not mark lost instances: %s", error)
        else:
            if count:
                logger.warning("Marked %d instance(s) of a previous server process as lost.", count)

    worker = threading.Thread(target=run, name="mark-lost")
    worker.start()
    worker.join()


_mark_lost_at_startup()

from envs import reaping  # noqa: E402

# Instances untouched for GYMAPI_IDLE_SECONDS are closed as reaped (envs/reaping.py).
reaping.start()

# Watching is read-only and carries nothing a client could not read over
# HTTP, and the step protocol does what /v1 does, so WebSockets take the same
# (open) access as /v1.
# The step sockets (envs/step_socket.py) are plain ASGI; watching goes through Channels.
# A path no route takes is refused with a 404 (socket_not_found), not URLRouter's ValueError.
sockets = URLRouter([*websocket_urlpatterns, re_path(r"", socket_not_found)])
application = ProtocolTypeRouter({"http": http_app, "websocket": StepSocketApp(sockets)})

# Everything imported so far (Django, Gymnasium, numpy, the apps) lives as long
# as the process: take it out of the cyclic collector's sight. Encoding an
# image observation as JSON builds tens of thousands of lists, which triggers
# full collections; with this heap frozen each costs a fraction (a Pong step's
# JSON encoding: 25 ms -> 4 ms).
gc.freeze()
