"""``manage.py export_minari DATASET_ID``: recorded episodes as a Minari dataset (README, Episodes).

The episodes are chosen with the filters of ``GET /v1/episodes/`` (same names,
same values, same 400s as errors here) and must all come from one environment
(id, kwargs, episode limit). Each is replayed from its seed and actions, which
regenerates its observations, rewards, terminations, truncations and infos,
and its return is checked against the recorded one: a mismatch fails the
export, naming the episode, and leaves no dataset behind. Load it with
``minari.load_dataset(DATASET_ID)``; ``dataset.recover_environment()`` makes
the environment again.
"""

from django.core.management.base import BaseCommand, CommandError

from envs.filters import EpisodeFilter
from envs.models import Episode
from envs.services.datasets import DatasetError, dataset_export

# Command-line options and the API filter each one is (mostly the filters' own names, with dashes).
FILTERS = {
    "env_id": "env_id", "instance": "instance_id", "outcome": "outcome", "min_return": "min_return",
    "max_return": "max_return", "min_steps": "min_steps", "ended_after": "ended_after", "ended_before": "ended_before",
}
# Each filter's option, as the user typed it (``instance_id`` is ``--instance``).
OPTIONS = {name: f"--{option.replace('_', '-')}" for option, name in FILTERS.items()}


class Command(BaseCommand):
    help = (
        "Build the Minari dataset DATASET_ID (e.g. gymapi/cartpole-v0) from recorded episodes, chosen with the "
        "filters of GET /v1/episodes/, by replaying each one (its return checked against the recorded one). "
        "Written under MINARI_DATASETS_PATH (else ~/.minari/datasets)."
    )

    def add_arguments(self, parser):
        parser.add_argument("dataset_id", help="Minari's id for the dataset: [namespace/]name-vN.")
        parser.add_argument("--env-id", help="Episodes of this environment id.")
        parser.add_argument("--instance", help="Episodes of this instance (its id).")
        parser.add_argument("--outcome", help="terminated, truncated, interrupted or running.")
        parser.add_argument("--min-return", help="Episodes whose return is at least this.")
        parser.add_argument("--max-return", help="Episodes whose return is at most this.")
        parser.add_argument("--min-steps", help="Episodes of at least this many steps.")
        parser.add_argument("--ended-after", help="Episodes that ended at or after this ISO 8601 time.")
        parser.add_argument("--ended-before", help="Episodes that ended before this ISO 8601 time.")
        parser.add_argument("--author", help="The dataset's author, in its metadata.")
        parser.add_argument("--description", help="The dataset's description, in its metadata.")
        parser.add_argument(
            "--skip-unreplayable", action="store_true",
            help="Leave out the episodes that cannot be replayed (said for each) instead of refusing the export.",
        )

    def handle(self, *args, dataset_id, author=None, description=None, skip_unreplayable=False, **options):
        data = {name: options[option] for option, name in FILTERS.items() if options.get(option) is not None}
        chosen = EpisodeFilter(data, queryset=Episode.objects.all())
        if not chosen.is_valid():
            raise CommandError(
                "; ".join(f"{OPTIONS.get(name, name)}: {' '.join(errors)}" for name, errors in chosen.errors.items())
            )
        try:
            dataset_export(
                dataset_id=dataset_id, episodes=chosen.qs, author=author, description=description,
                skip_unreplayable=skip_unreplayable, log=self.stdout.write,
            )
        except (DatasetError, ValueError) as error:  # ValueError: Minari refusing the id
            raise CommandError(str(error)) from error
