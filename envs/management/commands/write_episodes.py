"""``manage.py write_episodes``: the episode writer process of the production server.

Not run by hand: gymapi/serve.py starts it beside the event loop when
``GYMAPI_WRITER=process`` (the default on a database the loop cannot write
itself: neither a SQLite file nor PostgreSQL) and feeds it the episode rows its answers wait for,
framed on stdin; it answers on stdout (envs/writer_process.py). It exits when
its stdin ends, which is when the server stops or dies.
"""

from django.core.management.base import BaseCommand

from envs.writer_process import serve_writes


class Command(BaseCommand):
    requires_system_checks = []  # it runs with one app (gymapi/settings_writer.py): nothing to check
    help = (
        "Make the episode writes a gymapi server sends on stdin and answer on stdout, until stdin ends. "
        "Started by the server (gymapi/serve.py); not for use by hand."
    )

    def handle(self, *args, **options):
        serve_writes()
