"""Episode rows written on the event loop itself, for a SQLite database file.

Why: an answer that ends an episode waits for its row. Handed to the writer
process or thread, the write waits for a sleeping process or thread to wake,
and on these machines a wake-up after a few idle milliseconds costs far more
than the write: one client stepping CartPole saw each episode's last step take
about 0.9 ms longer with the process, when SQLite inserts and commits a row
(WAL, synchronous=NORMAL: no fsync) in 25-50 µs on a thread that is already
running. So, on SQLite, the loop makes the write itself, through a sqlite3
connection of its own (Django refuses database calls on the loop), and the
answer goes out after the commit as before.

It never waits on the loop:

- SQLite's own lock: the connection's busy timeout is 0, so a write lock held
  by another connection (a worker thread, the writer thread, another process)
  makes ``write`` return False at once, and the caller hands the write to the
  writer process or thread, which wait for their turn;
- our in-process lock of SQLite writes (``recording.write_turn``): taken
  without blocking, or the same;
- checkpoints: SQLite copies the WAL back into the database file, with two
  fsyncs, in whichever commit finds the WAL past 1,000 pages. This connection
  never does (``wal_autocheckpoint=0``); every ``CHECKPOINT_EVERY`` commits it
  asks a worker thread for a passive checkpoint, which runs beside writers.

Any other error (a disk that is full, a row whose instance is gone) rolls the
transaction back and returns False as well: the write is made again by the
writer, which logs and reports the error as it always has.
"""

import asyncio
import datetime
import logging
import sqlite3
import threading

from django.conf import settings
from django.db import connections, router

from . import recording
from .models import Episode

logger = logging.getLogger(__name__)

# A commit adds a few pages to the WAL (the table's last leaf, the unique
# index's): 200 commits stay well inside SQLite's own 1,000-page threshold.
CHECKPOINT_EVERY = 200


class InlineWriter:
    """Makes episode writes on the calling thread (the event loop's), or declines them."""

    def __init__(self, django_connection, path=None):
        """A writer to ``path``, the file of ``django_connection`` (a SQLite one) unless given.

        The Django connection only spells the SQL and adapts values: it never runs a query."""
        self.django_connection = django_connection
        self.path = str(path or django_connection.settings_dict["NAME"])
        self.local = threading.local()  # one sqlite3 connection per loop thread
        self.commits = 0
        self.checkpointing = False
        self.insert_sql = recording.insert_sql(self.django_connection, replay=False).replace("%s", "?")

    @classmethod
    def for_episodes(cls):
        """An inline writer for the database episode rows go to, or None where there can be none
        (not SQLite, an in-memory database that another connection would not see, or
        naive datetimes, which ``sqlite_row`` does not write)."""
        connection = connections[router.db_for_write(Episode)]
        if connection.vendor != "sqlite" or connection.is_in_memory_db() or not settings.USE_TZ:
            return None
        return cls(connection)

    def write(self, write):
        """Make ``write`` (an ``EpisodeWrite``) and commit it now: True, or False, with
        nothing written, when it would have to wait or failed (the caller hands it on)."""
        turn = recording.sqlite_write_lock()
        if not turn.acquire(blocking=False):
            return False
        try:
            # One statement, so no BEGIN and COMMIT around it: SQLite makes it a transaction
            # of its own, and with a busy timeout of 0 a lock held elsewhere fails it at once
            # (opening the connection too: its first read can meet another connection's commit).
            if write.create:
                self._connection().execute(self.insert_sql, sqlite_row(write))
            else:
                self._update(self._connection(), write)
        except sqlite3.Error as error:
            if not _locked(error):
                logger.warning("An episode write on the loop failed (%s); the writer makes it again.", error)
            return False
        finally:
            turn.release()
        self.commits += 1
        if self.commits % CHECKPOINT_EVERY == 0:
            self._checkpoint_soon()
        return True

    def _update(self, connection, write):
        # Rare (an episode long enough for a periodic write): Django's own adaptation of the values.
        sql, params = recording.update_sql(self.django_connection, write)
        cursor = connection.execute(sql.replace("%s", "?"), params)
        if cursor.rowcount != 1:  # as an ORM update of no row is no error, neither is this
            logger.warning("An episode update on the loop found %s rows for episode %s of %s.",
                           cursor.rowcount, write.number, write.instance_id)

    def _connection(self):
        connection = getattr(self.local, "connection", None)
        if connection is None:
            # Kept only once it is set up: a failed opening is tried again at the next write.
            connection = self.local.connection = self._open(timeout=0, checkpoints=False)
        return connection

    def _open(self, timeout, checkpoints=True):
        # isolation_level=None: autocommit, each statement a transaction of its own.
        connection = sqlite3.connect(self.path, timeout=timeout, isolation_level=None, check_same_thread=False)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA foreign_keys=ON")  # as Django's own connections: no row of an unknown instance
            if not checkpoints:
                connection.execute("PRAGMA wal_autocheckpoint=0")
        except sqlite3.Error:
            connection.close()
            raise
        return connection

    def _checkpoint_soon(self):
        if self.checkpointing:
            return
        # After the commit: whatever goes wrong here must not turn a written row into an error.
        try:
            future = asyncio.get_running_loop().run_in_executor(None, self._checkpoint)
        except RuntimeError as error:  # no loop, or its executor shut down: the next one tries again
            logger.warning("Could not start a checkpoint of the episode database: %s", error)
            return
        self.checkpointing = True
        future.add_done_callback(self._checkpointed)

    def _checkpoint(self):
        connection = getattr(self, "checkpoint_connection", None)
        if connection is None:
            connection = self.checkpoint_connection = self._open(timeout=5)
        connection.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def _checkpointed(self, future):
        self.checkpointing = False
        if not future.cancelled() and future.exception() is not None:
            logger.warning("A checkpoint of the episode database failed: %s", future.exception())

    def close(self):
        """Close the connections this writer opened (the loop's, from the loop's thread)."""
        for holder in (self.local, self):
            for name in ("connection", "checkpoint_connection"):
                connection = getattr(holder, name, None)
                if connection is not None:
                    connection.close()
                    setattr(holder, name, None)


def sqlite_row(write):
    """``write.row()`` for SQLite, without Django's field machinery, which cost a third of
    a write on the loop: the instance id as 32 hex digits, aware datetimes as naive UTC
    text, as Django's SQLite backend stores them with USE_TZ (the tests compare the two)."""
    fields = write.fields
    return (
        write.instance_id.replace("-", ""), 0, write.number, write.seed, _utc_text(write.started_at),
        _utc_text(fields.get("ended_at")), fields["steps"], fields["total_reward"],
        fields.get("terminated", False), fields.get("truncated", False),
    )


def _utc_text(value):
    return None if value is None else str(value.astimezone(datetime.timezone.utc).replace(tzinfo=None))


def _locked(error):
    """Whether ``error`` says another connection holds the write lock (SQLITE_BUSY)."""
    return getattr(error, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
