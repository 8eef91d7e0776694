"""The one writer of episode rows.

An answer that ends an episode goes out after its row is committed. Rows are
written from one place, in batches (every row queued while a batch was being
written goes in the next one, as one statement):

- ``GYMAPI_WRITER=loop`` (the default on a SQLite file and on PostgreSQL): the
  server's event loop writes them itself, through its database's loop sink
  (recording/sinks.py), since waking a thread or a process for each batch
  costs more than the write (on SQLite, whose writes never suspend, an answer's
  rows are written by the answer's own task when nothing else is being written);
- ``GYMAPI_WRITER=thread``: a thread of the writer's own writes them through
  Django (any database). Code that never started the writer (tests) gets this
  one, on a loop of its own, at its first row written from an event loop.

Rows decided in a thread (a slow environment's step, Django's views) are
handed to the writer too and their thread waits; with no writer running
(Django's test client, management commands) they are written by that thread.

While the database cannot be reached the rows are kept, in order, and written
when it is back (tried every ``RETRY_SECONDS``); the answers that wait for them
go out meanwhile. Past ``GYMAPI_WRITER_BACKLOG`` kept rows the writer refuses
(``refusing``): steps and resets are then answered 503 before they touch the
environment. Rows kept are lost if the server is killed before the database
comes back (README, Configuration).
"""

import asyncio
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import connections

from ..errors import DatabaseUnavailable
from .sinks import Busy, DjangoSink, Outage, loop_sink

logger = logging.getLogger(__name__)

RETRY_SECONDS = 1.0
# SQLite's write lock held elsewhere this long counts as an outage.
BUSY_SECONDS = 5.0


class _ThreadSink:
    """Django's sink, in a thread of its own, where blocking is what it is for (Django refuses
    database calls on a thread running an event loop)."""

    never_waits = False

    def __init__(self):
        self.sink = DjangoSink()
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="episode-writer")

    async def write(self, rows):
        await asyncio.get_running_loop().run_in_executor(self.thread, self.sink.write, rows)

    async def close(self):
        await asyncio.get_running_loop().run_in_executor(self.thread, connections.close_all)
        self.thread.shutdown(wait=False)


class Writer:
    """Episode rows written in batches on one event loop: the server's (``loop``) or a thread's (``thread``)."""

    def __init__(self):
        self.loop = None  # the loop the writer runs on, once started
        self.mode = None
        self.sink = None
        self.pending = []  # (rows, future) not written yet
        self.draining = None  # the task writing them
        self.backlog = []  # rows kept while the database cannot be reached
        self.retrying = None
        self.own_loop = False  # the loop is the writer's own (started by a first write, not by the server)
        self._thread_lock = threading.Lock()

    @property
    def refusing(self):
        """Whether so many rows wait for the database that no more may be made."""
        if not self.backlog:  # the common case, asked on every step: no setting read
            return False
        limit = settings.GYMAPI_WRITER_BACKLOG
        return bool(limit) and len(self.backlog) >= limit

    async def start(self, mode):
        """Write from here on: from the running loop (``loop``), or from a thread (``thread``)."""
        if self.loop is not None:  # one a first write started (tests): it goes first
            await self.stop()
        self.loop, self.mode = asyncio.get_running_loop(), mode
        self.sink = loop_sink() if mode == "loop" else _ThreadSink()
        logger.info("Episode rows are written from %s.", "the event loop" if mode == "loop" else "a thread")

    def _start_thread(self):
        """A writer of its own, on a loop of its own, for code that never started one (tests):
        the loops it writes from may end before the process does."""
        with self._thread_lock:
            if self.loop is not None:
                return
            loop, ready = asyncio.new_event_loop(), threading.Event()

            def run():
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            threading.Thread(target=run, name="episode-writer", daemon=True).start()
            ready.wait()
            self.sink, self.loop, self.mode, self.own_loop = _ThreadSink(), loop, "thread", True

    async def stop(self, timeout=10.0):
        """Write what is queued and, within ``timeout``, what was kept; then let go of the database."""
        if self.loop is None:
            return
        if self.loop is asyncio.get_running_loop():
            await self._stop(timeout)
        else:
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._stop(timeout), self.loop))
        if self.own_loop:
            self.loop.call_soon_threadsafe(self.loop.stop)
        self.loop = self.mode = self.sink = None
        self.own_loop = False

    async def _stop(self, timeout):
        if self.draining is not None:
            await asyncio.wait([self.draining], timeout=timeout)
        if self.retrying is not None:
            self.retrying.cancel()
            self.retrying = None
        if self.backlog:
            rows, self.backlog = self.backlog, []
            try:
                await asyncio.wait_for(self._write(rows), timeout)
                logger.info("Wrote %d episode row(s) kept while the database was unreachable.", len(rows))
            except Exception as error:  # noqa: BLE001 - whatever it is, say what is lost
                logger.error("%d episode row(s) kept while the database was unreachable are lost: %s", len(rows), error)
        await self.sink.close()

    async def write(self, rows):
        """On any event loop: wait until ``rows`` (``EpisodeRow``) are written, or kept while the
        database cannot be reached. A row the database refuses raises its error."""
        if not rows:
            return
        if self.loop is None:
            self._start_thread()
        if asyncio.get_running_loop() is self.loop:
            await self._submit(rows)
        else:
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._submit(rows), self.loop))

    def write_blocking(self, rows):
        """``write`` from a thread, waiting; with no writer running, made by this thread
        (``DatabaseUnavailable`` when the database cannot be reached)."""
        if not rows:
            return
        loop = self.loop
        if loop is None:
            try:
                DjangoSink().write(rows)
            except Outage as error:
                raise DatabaseUnavailable() from error
            return
        asyncio.run_coroutine_threadsafe(self._submit(rows), loop).result()

    async def _submit(self, rows):
        if self.backlog:  # the database was unreachable a moment ago: behind the others
            self._keep(rows)
            return
        if self.draining is None and self.sink.never_waits:
            # Nothing is being written and the sink writes without suspending (SQLite's): this
            # task writes its rows itself, sparing the answer a task of the writer's and a turn
            # of the loop. A write lock held elsewhere queues them as any others.
            try:
                outcome = await self._write_batch(latest(rows), busy_retried=False)
            except Busy:
                pass
            else:
                if outcome is not None:
                    raise outcome
                return
        future = self.loop.create_future()
        self.pending.append((rows, future))
        if self.draining is None:
            self.draining = self.loop.create_task(self._drain())
        await future

    async def _drain(self):
        try:
            while self.pending:
                batch, self.pending = self.pending, []
                outcome = await self._write_batch(latest([row for rows, _ in batch for row in rows]))
                if outcome is not None and len(batch) > 1:
                    # One request's refused row must not fail the others written with it.
                    outcomes = [await self._write_batch(rows) for rows, _ in batch]
                else:
                    outcomes = [outcome] * len(batch)
                for (_, future), outcome in zip(batch, outcomes):
                    if future.done():  # its request went away meanwhile
                        continue
                    if outcome is None:
                        future.set_result(None)
                    else:
                        future.set_exception(outcome)
        finally:
            self.draining = None

    async def _write_batch(self, rows, busy_retried=True):
        """Write ``rows``, or keep them through an outage: None, or the error the database refused them with."""
        try:
            await self._write(rows, busy_retried)
        except Busy:
            raise
        except Outage as error:
            logger.error("The database cannot be reached (%s): episode rows are kept until it is back.", error)
            self._keep(rows)
        except Exception as error:  # noqa: BLE001 - the database refused them: their answers say so
            logger.exception("The database refused %d episode row(s)", len(rows))
            return error
        return None

    async def _write(self, rows, busy_retried=True):
        """Write ``rows``; while SQLite's write lock is held elsewhere, try again a moment later
        (up to ``BUSY_SECONDS``), or raise ``Busy`` at once unless ``busy_retried``."""
        delay, deadline = 0.001, time.monotonic() + BUSY_SECONDS
        while True:
            try:
                return await self.sink.write(rows)
            except Busy:
                if not busy_retried:
                    raise
                if time.monotonic() > deadline:
                    raise Outage(f"SQLite's write lock was held elsewhere for more than {BUSY_SECONDS:g} s") from None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.05)

    def _keep(self, rows):
        self.backlog.extend(rows)
        if self.retrying is None:
            self.retrying = self.loop.create_task(self._retry())

    async def _retry(self):
        try:
            while self.backlog:
                await asyncio.sleep(RETRY_SECONDS)
                rows, self.backlog = latest(self.backlog), []
                try:
                    await self._write(rows)
                except Outage:
                    self.backlog[:0] = rows
                except Exception:  # noqa: BLE001 - refused rows cannot be made later either
                    logger.exception("The database refused %d kept episode row(s); they are dropped", len(rows))
                else:
                    logger.warning("The database is back: wrote %d kept episode row(s).", len(rows))
        finally:
            self.retrying = None


def latest(rows):
    """``rows`` with only the last of each episode (instance, sub_env, number), in order:
    one statement may not write the same row twice."""
    if len(rows) < 2:
        return rows
    keyed = {}
    for row in rows:
        key = (row.instance_id, row.sub_env, row.number)
        keyed.pop(key, None)
        keyed[key] = row
    return list(keyed.values()) if len(keyed) < len(rows) else rows


writer = Writer()
