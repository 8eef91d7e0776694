"""The episode writes of answers waiting on the event loop, made off the loop,
several in one transaction.

An answer decided on the loop (envs/inline.py) that ends an episode must not
go out before the episode's row is written. Under load hundreds of episodes
end each second; handing each write to a pool thread and back costs a thread
wake-up and a loop wake-up per episode, and a commit each. The writer takes
every write queued while it was busy and makes them in one transaction, then
wakes the loop once for all of them: the answers still wait for their rows.

Four writers do this. The production server (gymapi/serve.py) has the
loop make the rows itself where the database allows it, since waking
anything costs more than the write: on a SQLite file on the loop's own
thread (envs/writer_inline.py), on PostgreSQL on an asynchronous connection
of the loop's (envs/writer_postgres.py). With ``GYMAPI_WRITER=process`` it
starts a writer process (envs/writer_process.py) instead: a thread of this
process, however idle, takes the interpreter lock from the event loop each
time it wakes, and under load that cost the loop about a fifth of its steps
(README, Performance). Everything else, and every server or test that
started none of them, uses the writer thread below; so do the writes that
are not plain episode rows (a vector instance's batch, a broken instance's
close), which need this process's objects, and the rows the loop declines or
fails to write (it never waits for a lock; a connection can break).
"""

import asyncio
import logging
import queue
import threading
from collections import defaultdict

from .recording import EpisodeWrite, make_writes

logger = logging.getLogger(__name__)


class Writer:
    """``await writer.write(function)``: ``function`` (an episode write) made off the loop."""

    def __init__(self):
        self._queue = queue.SimpleQueue()
        self._thread = None
        self._start_lock = threading.Lock()
        self.process = None  # a writer_process.WriterProcess once started
        self.inline = None  # a writer_inline.InlineWriter once started (SQLite)
        self.postgres = None  # a writer_postgres.LoopPostgresWriter once started

    def write(self, function):
        """A future, on the running loop, of ``function()`` made by the writer (its exception, if any)."""
        loop = asyncio.get_running_loop()
        if type(function) is EpisodeWrite:
            if self.inline is not None and self.inline.write(function):
                made = loop.create_future()
                made.set_result(None)
                return made
            postgres = self.postgres
            if postgres is not None and postgres.loop is loop:
                made = postgres.write(function)
                if made is not None:
                    return made
            process = self.process
            if process is not None and process.alive and process.loop is loop:
                return process.write(function)
        return self.write_in_thread(function, loop)

    async def start_inline(self):
        """Make episode rows from the loop from here on, where the database allows it (a
        SQLite file: on the loop itself; PostgreSQL: on a connection of the loop's): True,
        or False when it does not, and a thread writes them."""
        from .writer_inline import InlineWriter
        from .writer_postgres import LoopPostgresWriter

        self.inline = InlineWriter.for_episodes()
        if self.inline is not None:
            return True
        postgres = LoopPostgresWriter.for_episodes(fallback=self)
        if postgres is not None:
            try:
                await postgres.start()
            except Exception as error:  # noqa: BLE001 - no connection to be had: psycopg's error, or the OS's
                logger.error("Could not connect the event loop to PostgreSQL (%s); a thread writes episode rows.", error)
                return False
            self.postgres = postgres
            return True
        logger.warning("Episode rows cannot be written from the loop with this database; a thread writes them.")
        return False

    async def stop_inline(self):
        """Stop making episode rows from the loop (what was queued is made), and close its connections."""
        inline, self.inline = self.inline, None
        if inline is not None:
            inline.close()
        postgres, self.postgres = self.postgres, None
        if postgres is not None:
            await postgres.stop()

    def write_in_thread(self, function, loop=None):
        """``write``, by the writer thread whatever else is running."""
        future = (loop or asyncio.get_running_loop()).create_future()
        self._queue.put((function, future, future.get_loop()))
        if self._thread is None:
            self._start()
        return future

    async def start_process(self):
        """Start the writer process; from here on this loop's episode rows go to it."""
        from .writer_process import WriterProcess

        process = WriterProcess(fallback=self)
        try:
            await process.start()
        except OSError as error:  # no process to be had (out of memory, of pids, a child that died): the thread writes
            logger.error("Could not start the episode writer process (%s); episode rows are written by a thread.", error)
            return
        self.process = process

    async def stop_process(self, timeout=10.0):
        """Stop the writer process once it has made every write it was given."""
        process, self.process = self.process, None
        if process is not None:
            await process.stop(timeout)

    def _start(self):
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="episode-writer", daemon=True)
                self._thread.start()

    def _run(self):
        while True:
            batch = [self._queue.get()]
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            outcomes = make_writes([function for function, _, _ in batch])
            by_loop = defaultdict(list)
            for (_, future, loop), outcome in zip(batch, outcomes):
                by_loop[loop].append((future, outcome))
            for loop, settled in by_loop.items():
                try:
                    loop.call_soon_threadsafe(_settle, settled)
                except RuntimeError:  # that loop is closed: nobody waits any more
                    pass


def _settle(settled):
    for future, outcome in settled:
        if future.done():  # its request was cancelled (the client went away)
            continue
        if outcome is None:
            future.set_result(None)
        else:
            future.set_exception(outcome)


writer = Writer()
