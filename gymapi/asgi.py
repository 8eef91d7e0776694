"""ASGI entry point (gymapi/routing.py has the routing, gymapi/lifecycle.py the start-up)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gymapi.settings")
django.setup(set_prefix=False)  # before the apps' modules, which the routing imports, are imported

from gymapi.routing import build  # noqa: E402 - needs the apps set up above

application, http_app = build()
