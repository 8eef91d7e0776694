"""Episode rows written from the event loop itself on PostgreSQL, without blocking it.

Why: through the writer process, recording cost one client about a fifth of
its steps on PostgreSQL (0.81x of recording off, six paired runs), against
0.99x on SQLite, where the loop writes the row itself (envs/writer_inline.py).
Each episode's end waited for the child to wake, for a commit that waits for
PostgreSQL's WAL to reach the disk (about 0.4 ms here), and for the loop to
wake again. PostgreSQL can be written from the loop without waiting on it:
the loop holds one asynchronous psycopg connection of its own, sends the
rows, and serves every other client until PostgreSQL answers.

``write`` queues a row and returns a future; one task sends every row queued
meanwhile in one transaction, then settles their futures: the answer that
ended an episode still goes out only after its row is committed. Its commits
are asynchronous (``synchronous_commit`` off, for this connection only):
PostgreSQL answers before its WAL reaches the disk, as SQLite's
``synchronous=NORMAL`` does here. A crash of this server loses no row it
answered for; a crash of the database host may lose the last fraction of a
second of rows, never the database's consistency.

A batch that fails goes to the writer thread (envs/writer.py), each row
inserted only if it is not there yet (the commit may have been made before
the connection broke). A broken connection sends every write to the thread
until a new one is made, tried at most every ``RECONNECT_SECONDS``.
"""

import asyncio
import functools
import logging
import time

import psycopg
from django.db import connections, router

from . import recording
from .models import Episode
from .writer_process import pass_on

logger = logging.getLogger(__name__)

RECONNECT_SECONDS = 5.0
# How its session shows in pg_stat_activity.
APPLICATION_NAME = "gymapi episode rows (event loop)"


class LoopPostgresWriter:
    """Makes episode writes on a connection of the event loop's; ``fallback`` (the
    ``Writer``) takes those it cannot make."""

    def __init__(self, django_connection, fallback):
        """A writer to the database of ``django_connection`` (a PostgreSQL one), which it
        connects to with the same parameters; it never runs a query on that connection."""
        self.django_connection = django_connection
        self.fallback = fallback
        self.instance_field = Episode._meta.get_field("instance")
        self.insert_sql = recording.insert_sql(django_connection, replay=False)
        self.inserts_sql = {}  # the INSERT of n rows in one statement, by n
        self.connection = None
        self.loop = None
        self.pending = []  # (write, future) not sent yet
        self.sending = None  # the task sending them
        self.reconnecting = None
        self.retry_at = 0.0

    @classmethod
    def for_episodes(cls, fallback):
        """A writer for the database episode rows go to, or None when it is not PostgreSQL."""
        connection = connections[router.db_for_write(Episode)]
        return cls(connection, fallback) if connection.vendor == "postgresql" else None

    async def start(self):
        """Connect, on the running loop (``psycopg.Error`` or ``OSError`` when it cannot)."""
        self.loop = asyncio.get_running_loop()
        await self._connect()

    def write(self, write):
        """A future of ``write`` (an ``EpisodeWrite``) made on this connection, or None
        while there is no connection (the caller hands the write on)."""
        if self.connection is None:
            self._reconnect_soon()
            return None
        future = self.loop.create_future()
        self.pending.append((write, future))
        if self.sending is None:
            self.sending = self.loop.create_task(self._send())
        return future

    async def stop(self, timeout=10.0):
        """Make what was queued, then close the connection."""
        for task in (self.sending, self.reconnecting):
            if task is not None:
                await asyncio.wait([task], timeout=timeout)
        connection, self.connection = self.connection, None
        if connection is not None:
            await connection.close()

    async def _connect(self):
        params = self.django_connection.get_connection_params()
        # Django's cursor class and adapters are for its own, synchronous connection; and
        # psycopg's default prepares the statements made again and again, as these are.
        for name in ("cursor_factory", "context", "prepare_threshold"):
            params.pop(name, None)
        params["application_name"] = APPLICATION_NAME
        connection = await psycopg.AsyncConnection.connect(**params, autocommit=True)
        await connection.execute("SET synchronous_commit TO off")
        self.connection = connection
        logger.info("Episode rows are written from the event loop on its own PostgreSQL connection.")

    async def _send(self):
        try:
            while self.pending and self.connection is not None:
                batch, self.pending = self.pending, []
                await self._make(batch)
            self._hand_on(self.pending)  # the connection broke meanwhile
            self.pending = []
        finally:
            self.sending = None

    async def _make(self, batch):
        writes = [write for write, _ in batch]
        inserts = [write.row(self.django_connection, self.instance_field) for write in writes if write.create]
        try:
            if len(inserts) == len(writes):
                # The common batch, episode ends only: one statement, a transaction by itself and
                # one round trip, where BEGIN, the inserts and COMMIT took three; each costs the loop.
                await self.connection.execute(self._insert_many(len(inserts)), [value for row in inserts for value in row])
            else:
                async with self.connection.transaction(), self.connection.cursor() as cursor:
                    if inserts:
                        await cursor.executemany(self.insert_sql, inserts)
                    for write in writes:
                        if not write.create:
                            await cursor.execute(*recording.update_sql(self.django_connection, write))
        except Exception as error:  # noqa: BLE001 - whatever it was, the thread makes the rows and reports
            self._failed(batch, error)
            return
        for _, future in batch:
            if not future.done():  # its request went away meanwhile
                future.set_result(None)

    def _insert_many(self, count):
        sql = self.inserts_sql.get(count)
        if sql is None:
            sql = self.inserts_sql[count] = recording.insert_sql(self.django_connection, replay=False, rows=count)
        return sql

    def _failed(self, batch, error):
        if self.connection is not None and (self.connection.closed or self.connection.broken):
            logger.error("The event loop's PostgreSQL connection failed (%s); a thread writes the episode rows "
                         "until it is back.", error)
            self._drop_connection()
        else:
            logger.warning("Episode rows from the event loop failed (%s); the writer thread makes them again.", error)
        self._hand_on(batch)

    def _hand_on(self, batch):
        for write, future in batch:
            # Only if its row is not there yet: a commit may have been made before the connection broke.
            again = self.fallback.write_in_thread(functools.partial(recording.write_all, [write], replay=True), self.loop)
            again.add_done_callback(functools.partial(pass_on, future=future))

    def _drop_connection(self):
        connection, self.connection = self.connection, None
        self.retry_at = time.monotonic() + RECONNECT_SECONDS
        if connection is not None and not connection.closed:
            self.loop.create_task(connection.close())

    def _reconnect_soon(self):
        if self.reconnecting is not None or time.monotonic() < self.retry_at:
            return
        self.reconnecting = self.loop.create_task(self._reconnect())

    async def _reconnect(self):
        try:
            await self._connect()
        except (psycopg.Error, OSError) as error:
            self.retry_at = time.monotonic() + RECONNECT_SECONDS
            logger.warning("Could not connect the event loop to PostgreSQL again (%s); retrying in %g s.",
                           error, RECONNECT_SECONDS)
        finally:
            self.reconnecting = None
