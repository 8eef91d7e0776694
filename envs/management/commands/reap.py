"""``manage.py reap``: idle reaping and the database side of it (README, Limits).

The server reaps its own idle instances (a thread, every GYMAPI_REAP_INTERVAL
seconds): an instance untouched for GYMAPI_IDLE_SECONDS is closed and marked
``reaped``. This command runs the same sweep in its own process, where, run
from the command line, no environment lives, so there is nothing idle to
close. What it does there is the database side: every instance recorded
active whose server process has ended is marked ``lost``, as a server does at
start-up. Each instance records the process that created it (host, pid and
start time, ``EnvInstance.process``), so instances of a server still running,
and those of another host, are left alone: it is safe to run beside a running
server (from cron, say), unlike ``manage.py mark_lost``. Instances recorded
with no process (created before it was recorded) are left to ``mark_lost``.
"""

from django.core.management.base import BaseCommand

from envs.services import lifecycle


class Command(BaseCommand):
    help = (
        "Close instances of this process idle past GYMAPI_IDLE_SECONDS (none when run from the command "
        "line: the server reaps its own), and mark lost the instances recorded active whose server process "
        "has ended (safe beside a running server). --dry-run only counts the latter."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Count the instances of ended processes; change nothing."
        )

    def handle(self, *args, dry_run=False, **options):
        if dry_run:
            count = lifecycle.instances_mark_lost(dry_run=True)
            self.stdout.write(f"{count} instance(s) of ended server processes would be marked lost.")
            return
        reaped = lifecycle.reap()
        lost = lifecycle.instances_mark_lost()
        self.stdout.write(
            self.style.SUCCESS(f"Reaped {reaped} idle instance(s); marked {lost} instance(s) of ended server processes lost.")
        )
