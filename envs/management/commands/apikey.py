"""``manage.py apikey create NAME | revoke NAME-OR-PREFIX | list``: API keys from the shell.

The same keys the admin makes. A key is printed once, by ``create``: only its
hash is stored. A running server notices a revocation made here within
GYMAPI_KEY_CACHE_SECONDS (it keeps key lookups that long).
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError
from django.db.models import Count, Q

from envs import access
from envs.models import ApiKey, InstanceStatus


class Command(BaseCommand):
    help = (
        "Manage the API keys clients send when GYMAPI_REQUIRE_KEYS is on: create one (its key is printed "
        "once), revoke one by name or key prefix, or list them."
    )

    def add_arguments(self, parser):
        commands = parser.add_subparsers(dest="command", required=True, metavar="{create,revoke,list}")
        create = commands.add_parser("create", help="Create a key and print it (only this once).")
        create.add_argument("name", help="Who or what uses the key (unique), e.g. alice or ci-runner.")
        revoke = commands.add_parser("revoke", help="Revoke a key: its clients get 401 from then on.")
        revoke.add_argument("key", metavar="name-or-prefix", help="The key's name, or the start of the key (gk_...).")
        commands.add_parser("list", help="List the keys: name, prefix, created, last used, revoked, active instances.")

    def handle(self, *args, command, **options):
        getattr(self, f"handle_{command}")(**options)

    def handle_create(self, *, name, **options):
        name = name.strip()
        if not name:
            raise CommandError("A key needs a name.")
        try:
            api_key, key = ApiKey.objects.create_key(name=name)
        except IntegrityError:
            raise CommandError(f"A key named {name!r} exists already.") from None
        self.stderr.write(f"Created the key {api_key.name!r}. It is shown only now; clients send it as "
                          "'Authorization: Bearer <key>':")
        self.stdout.write(key)

    def handle_revoke(self, *, key, **options):
        matches = (
            list(ApiKey.objects.filter(name=key))
            or list(ApiKey.objects.filter(hashed_key=ApiKey.hash(key)))  # the whole key
            or [api_key for api_key in ApiKey.objects.all() if api_key.prefix.startswith(key)]
        )
        if not matches:
            raise CommandError(f"No key is named {key!r} or starts with it.")
        if len(matches) > 1:
            names = ", ".join(f"{api_key.name} ({api_key.prefix})" for api_key in matches)
            raise CommandError(f"{key!r} matches several keys: {names}. Give a name.")
        api_key = matches[0]
        if access.key_revoke(api_key):
            self.stdout.write(f"Revoked {api_key.name} ({api_key.prefix}...).")
        else:
            self.stdout.write(f"{api_key.name} ({api_key.prefix}...) was revoked already.")

    def handle_list(self, **options):
        keys = ApiKey.objects.annotate(
            active=Count("instances", filter=Q(instances__status=InstanceStatus.ACTIVE))
        ).order_by("name")
        rows = [("NAME", "PREFIX", "CREATED", "LAST USED", "REVOKED", "ACTIVE")]
        for api_key in keys:
            rows.append(
                (
                    api_key.name,
                    api_key.prefix,
                    _moment(api_key.created_at),
                    _moment(api_key.last_used_at),
                    _moment(api_key.revoked_at),
                    str(api_key.active),
                )
            )
        widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
        for row in rows:
            self.stdout.write("  ".join(value.ljust(width) for value, width in zip(row, widths)).rstrip())


def _moment(value):
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"
