"""``manage.py runserver [addrport]``: the development server, served as production is.

Django's own runserver (or daphne's) would serve without the ASGI lifespan,
so without the episode writer, the reaper and the clean shutdown that
``make run`` has. This one runs the production server (gymapi/serve.py) on
``addrport`` (default 127.0.0.1:8000) and, unless ``--noreload``, restarts it
when a Python file changes (uvicorn's reloader: the old server shuts down
cleanly first, its instances closed).
"""

import re

from django.core.management.base import BaseCommand, CommandError
from uvicorn.supervisors import ChangeReload

from gymapi.serve import Server, config

ADDRPORT = re.compile(r"^(?:(?P<host>\[[0-9a-fA-F:]+\]|[^:]+):)?(?P<port>\d+)$")


class Command(BaseCommand):
    help = "Serve gymapi for development as `make run` does, restarting it when code changes (--noreload: not)."
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000", help="[host:]port, 127.0.0.1:8000 by default")
        parser.add_argument("--noreload", action="store_false", dest="reload", help="do not restart on code changes")

    def handle(self, *args, addrport, reload, **options):
        match = ADDRPORT.match(addrport)
        if match is None:
            raise CommandError(f"{addrport!r} is not [host:]port.")
        host, port = (match["host"] or "127.0.0.1").strip("[]"), int(match["port"])
        settings = config(host, port, reload=reload)
        server = Server(settings)
        if reload:
            ChangeReload(settings, target=server.run, sockets=[settings.bind_socket()]).run()
        else:
            server.run()
