"""``manage.py mark_lost``: mark instances a previous server process left active as lost.

Environments live in the memory of the server process that created them, so
when that process ends, every instance it still recorded as ``active`` is gone.
The server marks them lost itself at start-up (``gymapi/lifecycle.py``); this
command does the same from the command line, after a crash or before looking
at the admin, without starting a server. Requests for a lost instance are
answered 410; its recorded episodes are kept.

Run it only while no server is running against the same database: this
process holds no environments, so it would mark a running server's instances
lost too.
"""

from django.core.management.base import BaseCommand

from envs.models import EnvInstance
from envs.runtime import runtime
from envs.services.lifecycle import instances_mark_lost


class Command(BaseCommand):
    help = (
        "Mark instances left active by a previous server process as lost (the server does this at "
        "start-up). Run it only while no server uses the database. --dry-run only counts them."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Count the instances that would be marked lost; change nothing."
        )

    def handle(self, *args, dry_run=False, **options):
        if dry_run:
            # The same instances instances_mark_lost() would mark: active, not live here.
            count = EnvInstance.objects.active().exclude(id__in=runtime.ids()).count()
            self.stdout.write(f"{count} active instance(s) would be marked lost.")
            return
        count = instances_mark_lost()
        self.stdout.write(self.style.SUCCESS(f"Marked {count} instance(s) lost."))
