"""Where episode rows go: one small sink per database, each writing a batch of
``EpisodeRow`` as one upsert (recording/episodes.py says why an upsert).

- ``DjangoSink``: any database, through Django's connection of the calling
  thread; it may block (a thread's writer, or a thread writing its own rows).
- ``SQLiteSink``: a SQLite file, from the event loop itself, through a sqlite3
  connection of its own. It never waits: the connection's busy timeout is 0,
  so a write lock held elsewhere raises ``Busy`` at once and the writer tries
  again a moment later; it never checkpoints (``wal_autocheckpoint=0``): every
  ``CHECKPOINT_EVERY`` commits a worker thread does, beside the writers.
- ``PostgresSink``: PostgreSQL, from the event loop, on an asynchronous
  psycopg connection of its own: the loop serves everyone else until
  PostgreSQL answers. Commits are synchronous unless ``GYMAPI_ASYNC_COMMIT``
  (README, Configuration, says what that risks).

Every sink raises ``Outage`` when the database cannot be reached (the writer
keeps the rows and tries again), ``Busy`` when it must be tried again at once,
and anything else when the database refused the rows themselves.
"""

import asyncio
import json
import logging
import sqlite3
from datetime import datetime, timezone

import psycopg
from psycopg.types.json import Jsonb
from django.conf import settings
from django.db import InterfaceError, OperationalError, connections, router, transaction

from ..models import Episode

logger = logging.getLogger(__name__)

# The columns of EpisodeRow, in its order.
COLUMNS = (
    "instance", "sub_env", "number", "seed", "started_at", "ended_at", "steps", "total_reward", "terminated", "truncated",
    "options", "generator", "actions", "unreplayable", "resumable",
)
# What a later write of a running episode changes: its counts, its end, its actions so far, and
# whether it covers every answer (the only change a write of the same end again makes).
UPDATED = ("ended_at", "steps", "total_reward", "terminated", "truncated", "actions", "resumable")
# A commit adds a few pages to the WAL: 200 commits stay well inside SQLite's own 1,000-page threshold.
CHECKPOINT_EVERY = 200
# How its PostgreSQL session shows in pg_stat_activity.
APPLICATION_NAME = "gymapi episode rows (event loop)"


class Outage(Exception):
    """The database cannot be reached now; the rows are to be kept and written later."""


class Busy(Exception):
    """Another connection holds SQLite's write lock; the rows are to be tried again at once."""


def upsert_sql(quote, placeholder="%s", rows=1):
    """The statement writing ``rows`` episode rows: an insert, or an update of the row of the
    same (instance, sub_env, number) unless that one has ended or counts more steps; an ended
    one is written again only by the same end (a checkpoint's: recording/episodes.py)."""
    column = lambda name: quote(Episode._meta.get_field(name).column)  # noqa: E731
    table = quote(Episode._meta.db_table)
    values = ", ".join([f"({', '.join([placeholder] * len(COLUMNS))})"] * rows)
    key = ", ".join(column(name) for name in ("instance", "sub_env", "number"))
    updates = ", ".join(f"{column(name)} = excluded.{column(name)}" for name in UPDATED)
    return (
        f"INSERT INTO {table} ({', '.join(column(name) for name in COLUMNS)}) VALUES {values} "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates} "
        f"WHERE ({table}.{column('ended_at')} IS NULL AND excluded.{column('steps')} >= {table}.{column('steps')}) "
        f"OR ({table}.{column('ended_at')} = excluded.{column('ended_at')} AND excluded.{column('steps')} = {table}.{column('steps')})"
    )


def _utc(timestamp):
    return None if timestamp is None else datetime.fromtimestamp(timestamp, tz=timezone.utc)


def _values(row, instance, time, json_value):
    """``row``'s values in COLUMNS' order, its id, times and JSON columns as a sink passes them."""
    return (
        instance(row.instance_id), row.sub_env, row.number, row.seed, time(row.started), time(row.ended), row.steps,
        row.total_reward, row.terminated, row.truncated, None if row.options is None else json_value(row.options),
        None if row.generator is None else json_value(row.generator), row.actions, row.unreplayable, row.resumable,
    )


class DjangoSink:
    """Rows written through Django's connection of the calling thread, in one transaction."""

    def write(self, rows):
        connection = connections[router.db_for_write(Episode)]
        adapt = connection.ops.adapt_datetimefield_value
        instance = Episode._meta.get_field("instance")
        options = Episode._meta.get_field("options")
        params = [
            _values(
                row, lambda value: instance.get_db_prep_save(value, connection), lambda value: adapt(_utc(value)),
                lambda value: options.get_db_prep_save(value, connection),
            )
            for row in rows
        ]
        try:
            with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
                cursor.executemany(upsert_sql(connection.ops.quote_name), params)
        except (OperationalError, InterfaceError) as error:
            connection.close()  # made again at the next use
            raise Outage(str(error)) from error


class SQLiteSink:
    """Rows written on the event loop's thread to a SQLite file, never waiting."""

    never_waits = True  # its write never suspends: the writer lets an answer's task make it (recording/writer.py)

    def __init__(self, django_connection):
        self.path = str(django_connection.settings_dict["NAME"])
        quote = django_connection.ops.quote_name
        self.sql = upsert_sql(quote, "?")
        self.connection = None
        self.checkpoint_connection = None
        self.commits = 0
        self.checkpointing = False

    @classmethod
    def available(cls, django_connection):
        """Whether the loop can write this database: a SQLite file, with aware datetimes."""
        return (
            django_connection.vendor == "sqlite" and not django_connection.is_in_memory_db() and settings.USE_TZ
        )

    async def write(self, rows):
        params = [_values(row, _hex, _text, json.dumps) for row in rows]
        try:
            connection = self._connection()
            if len(params) == 1:  # one statement: a transaction of its own
                connection.execute(self.sql, params[0])
            else:
                connection.execute("BEGIN IMMEDIATE")
                try:
                    connection.executemany(self.sql, params)
                    connection.execute("COMMIT")
                except BaseException:
                    connection.execute("ROLLBACK")
                    raise
        except sqlite3.Error as error:
            code = getattr(error, "sqlite_errorcode", None)
            if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                raise Busy from error
            if isinstance(error, sqlite3.OperationalError):  # the file cannot be opened or written
                if self.connection is not None:  # opened again by the next write
                    self.connection.close()
                    self.connection = None
                raise Outage(str(error)) from error
            raise
        self.commits += 1
        if self.commits % CHECKPOINT_EVERY == 0:
            self._checkpoint_soon()

    def _connection(self):
        if self.connection is None:
            self.connection = self._open(timeout=0, checkpoints=False)
        return self.connection

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
        except RuntimeError as error:  # its executor shut down: the next one tries again
            logger.warning("Could not start a checkpoint of the episode database: %s", error)
            return
        self.checkpointing = True
        future.add_done_callback(self._checkpointed)

    def _checkpoint(self):
        if self.checkpoint_connection is None:
            self.checkpoint_connection = self._open(timeout=5)
        self.checkpoint_connection.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def _checkpointed(self, future):
        self.checkpointing = False
        if not future.cancelled() and future.exception() is not None:
            logger.warning("A checkpoint of the episode database failed: %s", future.exception())

    async def close(self):
        for name in ("connection", "checkpoint_connection"):
            connection = getattr(self, name)
            if connection is not None:
                connection.close()
                setattr(self, name, None)


def _hex(instance_id):
    """An instance id as Django's SQLite backend stores a UUID: 32 hex digits."""
    return instance_id.replace("-", "")


def _text(timestamp):
    """A time as Django's SQLite backend stores an aware datetime with USE_TZ: naive UTC text."""
    return None if timestamp is None else str(datetime.fromtimestamp(timestamp, tz=timezone.utc).replace(tzinfo=None))


class PostgresSink:
    """Rows written from the event loop to PostgreSQL on a connection of the loop's own."""

    never_waits = False

    CONNECT_TIMEOUT = 5  # seconds: an unreachable server must not hold the answers waiting for it long
    MOST_ROWS = 1000

    def __init__(self, django_connection):
        self.django_connection = django_connection
        self.sql = {}  # the statement of n rows, by n
        self.connection = None

    @classmethod
    def available(cls, django_connection):
        return django_connection.vendor == "postgresql"

    async def write(self, rows):
        try:
            connection = await self._connection()
            # One statement a batch, a transaction by itself: one round trip, where BEGIN, the
            # inserts and COMMIT would take three, each costing the loop. A batch kept through
            # an outage may be long: PostgreSQL takes at most 65,535 parameters a statement.
            for start in range(0, len(rows), self.MOST_ROWS):
                chunk = rows[start:start + self.MOST_ROWS]
                params = [value for row in chunk for value in _values(row, str, _utc, Jsonb)]
                await connection.execute(self._sql(len(chunk)), params)
        except (psycopg.OperationalError, psycopg.InterfaceError, OSError) as error:
            await self.close()
            raise Outage(str(error)) from error

    def _sql(self, count):
        sql = self.sql.get(count)
        if sql is None:
            sql = self.sql[count] = upsert_sql(self.django_connection.ops.quote_name, rows=count)
        return sql

    async def _connection(self):
        if self.connection is None or self.connection.closed or self.connection.broken:
            params = self.django_connection.get_connection_params()
            # Django's cursor class and adapters are for its own, synchronous connection.
            for name in ("cursor_factory", "context", "prepare_threshold"):
                params.pop(name, None)
            params.setdefault("connect_timeout", self.CONNECT_TIMEOUT)
            params["application_name"] = APPLICATION_NAME
            connection = await psycopg.AsyncConnection.connect(**params, autocommit=True)
            if settings.GYMAPI_ASYNC_COMMIT:
                await connection.execute("SET synchronous_commit TO off")
            self.connection = connection
        return self.connection

    async def close(self):
        connection, self.connection = self.connection, None
        if connection is not None and not connection.closed:
            try:
                await connection.close()
            except Exception:  # noqa: BLE001 - a broken connection closes as it can
                pass


def loop_sink():
    """The sink that writes from the event loop for the database episode rows go to, or None."""
    connection = connections[router.db_for_write(Episode)]
    for sink in (SQLiteSink, PostgresSink):
        if sink.available(connection):
            return sink(connection)
    return None
