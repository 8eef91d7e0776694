"""Episode records: counted in memory on every step, written to the database
when an episode ends (by its end, a reset or the close), and otherwise at most
every ``GYMAPI_FLUSH_SECONDS`` while it runs. No database write per step.

An episode's row is inserted once it has something to say: at its end, which
for most episodes is the only write, or at the first periodic flush of a long
one. A reset writes nothing for the episode it starts (its seed and start time
wait in memory), so recording costs one write per episode, not two. Readers
of a live instance add the running episode from memory (``selectors``).

On SQLite the writes of all threads take turns on a lock of ours: its own
lock, when contended, makes writers sleep and retry for milliseconds.

Each function is called with the instance's ``LiveEnv`` lock held, so the
counters it reads belong to one consistent moment of the episode; each decides
a write there and returns it, to be made before the answer goes out.
"""

import contextlib
import logging
import threading
import time
import uuid

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, connections, router, transaction
from django.utils import timezone

from .models import Episode

logger = logging.getLogger(__name__)

# Reentrant: a batch of writes (make_writes) takes it around writes that take it too.
_sqlite_writes = threading.RLock()


def write_turn():
    """Our lock on SQLite, where a database write lock is taken by sleeping; nothing elsewhere."""
    return _sqlite_writes if connection.vendor == "sqlite" else contextlib.nullcontext()


def sqlite_write_lock():
    """The lock ``write_turn`` takes on SQLite, for a writer that must not block on it."""
    return _sqlite_writes


class EpisodeRecord:
    """The database side of a live instance's current episode."""

    __slots__ = ("number", "seed", "started_at", "last_flush", "written", "finished")

    def __init__(self, number, seed):
        self.number = number
        self.seed = seed
        self.started_at = timezone.now()
        self.last_flush = time.monotonic()
        self.written = False  # has a row
        self.finished = False


# The columns of an inserted episode row, in the order ``insert_rows`` takes them.
EPISODE_COLUMNS = (
    "instance", "sub_env", "number", "seed", "started_at", "ended_at", "steps", "total_reward", "terminated", "truncated",
)


def insert_sql(connection, replay, rows=1):
    """The INSERT of ``rows`` episode rows in ``EPISODE_COLUMNS`` order, in Django's placeholders."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(Episode._meta.get_field(name).column) for name in EPISODE_COLUMNS)
    values = ", ".join([f"({', '.join(['%s'] * len(EPISODE_COLUMNS))})"] * rows)
    # Both SQLite and PostgreSQL spell it so; the unique (instance, sub_env, number) is the conflict.
    skip = " ON CONFLICT DO NOTHING" if replay else ""
    return f"INSERT INTO {quote(Episode._meta.db_table)} ({columns}) VALUES {values}{skip}"


def update_sql(connection, write):
    """The UPDATE of the row of ``write`` (an ``EpisodeWrite`` whose episode has one), for
    writers that run SQL of their own: (SQL in Django's placeholders, its parameters
    prepared for ``connection``)."""
    quote, adapt = connection.ops.quote_name, connection.ops.adapt_datetimefield_value
    column = lambda name: quote(Episode._meta.get_field(name).column)  # noqa: E731
    values = [adapt(value) if name == "ended_at" else value for name, value in write.fields.items()]
    instance = Episode._meta.get_field("instance").get_db_prep_save(uuid.UUID(write.instance_id), connection)
    assignments = ", ".join(f"{column(name)} = %s" for name in write.fields)
    where = " AND ".join(f"{column(name)} = %s" for name in ("instance", "sub_env", "number"))
    sql = f"UPDATE {quote(Episode._meta.db_table)} SET {assignments} WHERE {where}"
    return sql, (*values, instance, 0, write.number)


def insert_rows(connection, rows, *, replay=False):
    """Insert episode rows (tuples in ``EPISODE_COLUMNS`` order, values prepared for
    ``connection``) as one executemany: Django's bulk_create prepares each field of
    each row in Python, several times the cost of the insert itself on SQLite.

    ``replay``: the rows may already be there (a write made again after its
    writer died without saying whether it was made); those are left alone."""
    with connection.cursor() as cursor:
        cursor.executemany(insert_sql(connection, replay), rows)


class EpisodeWrite:
    """One episode row to insert or update, settled under its instance's lock;
    calling it makes it (``write_all`` makes several at once)."""

    __slots__ = ("instance_id", "number", "create", "seed", "started_at", "fields")

    def __init__(self, instance_id, number, *, create, seed, started_at, fields):
        self.instance_id = instance_id
        self.number = number
        self.create = create
        self.seed = seed
        self.started_at = started_at
        self.fields = fields

    def __call__(self):
        write_all([self])

    def row(self, connection, instance_field):
        fields, adapt = self.fields, connection.ops.adapt_datetimefield_value
        ended_at = fields.get("ended_at")
        return (
            instance_field.get_db_prep_save(uuid.UUID(self.instance_id), connection), 0, self.number, self.seed,
            adapt(self.started_at), None if ended_at is None else adapt(ended_at), fields["steps"],
            fields["total_reward"], fields.get("terminated", False), fields.get("truncated", False),
        )


def write_all(writes, *, replay=False):
    """Make ``writes`` (``EpisodeWrite``) in one transaction, the inserts as one statement
    (``replay``: see ``insert_rows``; an update is the same made twice)."""
    connection = connections[router.db_for_write(Episode)]
    instance_field = Episode._meta.get_field("instance")
    inserts = [write.row(connection, instance_field) for write in writes if write.create]
    # No savepoint inside a batch's transaction (make_writes): a failed batch is made again write by write.
    with write_turn(), transaction.atomic(using=connection.alias, savepoint=False):
        if inserts:
            insert_rows(connection, inserts, replay=replay)
        for write in writes:
            if not write.create:
                Episode.objects.filter(instance_id=write.instance_id, sub_env=0, number=write.number).update(
                    **write.fields
                )


def make_writes(functions):
    """Make every write of ``functions`` (episode writes, or functions that write), in one
    transaction when they all succeed: a list of None for each that was made, else its exception."""
    try:
        episodes = [function for function in functions if isinstance(function, EpisodeWrite)]
        with write_turn(), transaction.atomic():
            if episodes:
                write_all(episodes)  # the inserts as one statement
            for function in functions:
                if not isinstance(function, EpisodeWrite):
                    function()
        return [None] * len(functions)
    except Exception as error:
        close_old_connections()
        if len(functions) == 1:
            logger.exception("An episode write failed")
            return [error]
    # One failing write must not cost the others: each on its own.
    return [_exception_of(function) for function in functions]


def _exception_of(function):
    try:
        with write_turn(), transaction.atomic():
            function()
        return None
    except DatabaseError as error:
        logger.exception("An episode write failed")
        close_old_connections()
        return error
    except Exception as error:
        logger.exception("An episode write failed")
        return error


def _decide(live, record, *, steps, total_reward, ended=False, terminated=False, truncated=False):
    """Settle a write of ``record`` now, under the instance's lock, and return it
    (an ``EpisodeWrite``). The record counts as written from here on, so that
    nothing else writes it twice while the write is on its way."""
    fields = {"steps": steps, "total_reward": total_reward}
    if ended:
        fields.update(ended_at=timezone.now(), terminated=terminated, truncated=truncated)
        record.finished = True
    create = not record.written
    record.written = True
    record.last_flush = time.monotonic()
    return EpisodeWrite(
        str(live.instance_id), record.number, create=create, seed=record.seed, started_at=record.started_at, fields=fields
    )


def flush_due(live):
    """Whether the next step of ``live`` may have to write its running episode's counts."""
    record = getattr(live, "record", None)
    return (
        record is not None
        and not record.finished
        and time.monotonic() - record.last_flush >= settings.GYMAPI_FLUSH_SECONDS
    )


def running_episode(live):
    """The running episode of ``live`` if it has no row yet, as a row would show it; else None.

    Called with the instance's lock held.
    """
    record = getattr(live, "record", None)
    if record is None or record.written or record.finished:
        return None
    return Episode(
        instance_id=live.instance_id,
        number=record.number,
        seed=record.seed,
        started_at=record.started_at,
        steps=live.episode_steps,
        total_reward=live.episode_return,
    )


# The three moments below are called with the instance's lock held and touch
# no database: each returns the write to make (a function), or None. The
# caller makes it before answering: under the lock, or (on the event loop, see
# envs/inline.py) in a thread once the lock is released.


def episode_started(live, *, interrupted_steps, interrupted_return):
    """A reset began a new episode: the end of the one it interrupted is to be
    written; the new one is remembered.

    The reset has already zeroed the live counters, so the caller passes the
    interrupted episode's last counts. With ``GYMAPI_RECORD`` off nothing is
    written, and so the episode's steps are not written either.
    """
    if not settings.GYMAPI_RECORD:
        return None
    previous = getattr(live, "record", None)
    write = None
    if previous is not None and not previous.finished:
        write = _decide(live, previous, steps=interrupted_steps, total_reward=interrupted_return, ended=True)
    live.record = EpisodeRecord(live.episode_number, live.episode_seed)
    return write


def episode_stepped(live):
    """After each step: a write at the episode's end, or when the last write is old."""
    record = getattr(live, "record", None)
    if record is None:
        return None
    if live.episode_over:
        return _decide(
            live,
            record,
            steps=live.episode_steps,
            total_reward=live.episode_return,
            ended=True,
            terminated=live.terminated,
            truncated=live.truncated,
        )
    if time.monotonic() - record.last_flush >= settings.GYMAPI_FLUSH_SECONDS:
        return _decide(live, record, steps=live.episode_steps, total_reward=live.episode_return)
    return None


def episode_closed(live):
    """The instance is closing: the current episode's last counts, ended, are to be written."""
    record = getattr(live, "record", None)
    if record is not None and not record.finished:
        return _decide(live, record, steps=live.episode_steps, total_reward=live.episode_return, ended=True)
    return None
