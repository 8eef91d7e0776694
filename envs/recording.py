"""Episode records: counted in memory on every step, written to the database
when an episode starts and ends, when its instance closes, and otherwise at
most every ``GYMAPI_FLUSH_SECONDS`` while it runs. No database write per step.

Each function is called with the instance's ``LiveEnv`` lock held, so the
counters it reads belong to one consistent moment of the episode.
"""

import time
from datetime import datetime
from datetime import timezone as dt_timezone

from django.conf import settings
from django.utils import timezone

from .models import Episode


class EpisodeRecord:
    """The database side of a live instance's current episode."""

    __slots__ = ("episode_id", "last_flush", "finished")

    def __init__(self, episode_id):
        self.episode_id = episode_id
        self.last_flush = time.monotonic()
        self.finished = False


def _write(live, record, *, ended):
    fields = {"steps": live.episode_steps, "total_reward": live.episode_return}
    if ended:
        fields.update(ended_at=timezone.now(), terminated=live.terminated, truncated=live.truncated)
        record.finished = True
    Episode.objects.filter(pk=record.episode_id).update(**fields)
    record.last_flush = time.monotonic()


def episode_started(live, *, interrupted_steps, interrupted_return):
    """A reset began a new episode: end the one it interrupted, open a row for the new one.

    The reset has already zeroed the live counters, so the caller passes the
    interrupted episode's last counts. With ``GYMAPI_RECORD`` off nothing is
    written, and so the episode's steps are not written either.
    """
    if not settings.GYMAPI_RECORD:
        return
    previous = getattr(live, "record", None)
    if previous is not None and not previous.finished:
        Episode.objects.filter(pk=previous.episode_id).update(
            steps=interrupted_steps, total_reward=interrupted_return, ended_at=timezone.now()
        )
        previous.finished = True
    episode = Episode.objects.create(instance_id=live.instance_id, number=live.episode_number, seed=live.episode_seed)
    live.record = EpisodeRecord(episode.pk)


def episode_stepped(live):
    """After each step: write at the episode's end, or when the last write is old."""
    record = getattr(live, "record", None)
    if record is None:
        return
    if live.episode_over:
        _write(live, record, ended=True)
    elif time.monotonic() - record.last_flush >= settings.GYMAPI_FLUSH_SECONDS:
        _write(live, record, ended=False)


def episode_closed(live):
    """The instance is closing: write the current episode's last counts and end it."""
    record = getattr(live, "record", None)
    if record is not None and not record.finished:
        _write(live, record, ended=True)


# --- vector instances ----------------------------------------------------------
#
# A vector instance counts each sub-environment's episode in memory
# (``LiveVectorEnv``); an episode's row is written once, when it has ended (or
# was interrupted by a reset or the close), all the episodes of one step in one
# bulk insert. A running episode has no row: a vector instance lost in a restart
# keeps only its finished episodes.


def _moment(timestamp):
    return datetime.fromtimestamp(timestamp, tz=dt_timezone.utc)


def vector_episodes_write(live, finished):
    """Write ``finished`` (``FinishedEpisode`` records of ``live``) in one bulk insert."""
    if not finished or not settings.GYMAPI_RECORD:
        return
    Episode.objects.bulk_create(
        [
            Episode(
                instance_id=live.instance_id,
                sub_env=episode.sub_env,
                number=episode.number,
                seed=episode.seed,
                started_at=_moment(episode.started),
                ended_at=_moment(episode.ended),
                steps=episode.steps,
                total_reward=episode.total_reward,
                terminated=episode.terminated,
                truncated=episode.truncated,
            )
            for episode in finished
        ]
    )


def vector_stepped(live):
    """After a reset or step of a vector instance: write the episodes it ended."""
    if live.finished:
        vector_episodes_write(live, live.take_finished())
