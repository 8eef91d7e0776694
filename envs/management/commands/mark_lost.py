"""``manage.py mark_lost``: mark instances a previous server process left active as lost.

Environments live in the memory of the server process that created them, so
when that process ends, every instance it still recorded as ``active`` is gone.
The server marks lost at start-up those whose process has ended
(``gymapi/lifecycle.py``), and ``manage.py reap`` does so beside a running
server; this command marks every active instance lost, whatever process
recorded it (those of older servers, which recorded none, too). Requests for a lost instance are
answered 410; its recorded episodes are kept.

Run it only while no server is running against the same database: this
process holds no environments, so it would mark a running server's instances
lost too.
"""

from django.core.management.base import BaseCommand

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
            count = instances_mark_lost(force=True, dry_run=True)
            self.stdout.write(f"{count} active instance(s) would be marked lost.")
            return
        count = instances_mark_lost(force=True)
        self.stdout.write(self.style.SUCCESS(f"Marked {count} instance(s) lost."))
