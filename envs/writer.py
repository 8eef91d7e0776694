"""The episode writes of answers waiting on the event loop, made by one thread,
several in one transaction.

An answer decided on the loop (envs/inline.py) that ends an episode must not
go out before the episode's row is written. Under load hundreds of episodes
end each second; handing each write to a pool thread and back costs a thread
wake-up and a loop wake-up per episode, and a commit each. This writer takes
every write queued while it was busy and makes them in one transaction, then
wakes the loop once for all of them: the answers still wait for their rows.
"""

import asyncio
import logging
import queue
import threading
from collections import defaultdict

from django.db import DatabaseError, close_old_connections, transaction

from .recording import EpisodeWrite, write_all, write_turn

logger = logging.getLogger(__name__)


class Writer:
    """``await writer.write(function)``: ``function`` (an episode write) made in the writer thread."""

    def __init__(self):
        self._queue = queue.SimpleQueue()
        self._thread = None
        self._start_lock = threading.Lock()

    def write(self, function):
        """A future, on the running loop, of ``function()`` made in the writer (its exception, if any)."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put((function, future, loop))
        if self._thread is None:
            self._start()
        return future

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
            outcomes = _make(batch)
            by_loop = defaultdict(list)
            for (_, future, loop), outcome in zip(batch, outcomes):
                by_loop[loop].append((future, outcome))
            for loop, settled in by_loop.items():
                try:
                    loop.call_soon_threadsafe(_settle, settled)
                except RuntimeError:  # that loop is closed: nobody waits any more
                    pass


def _make(batch):
    """Make every write of ``batch``: None for each that was made, else its exception."""
    try:
        episodes = [function for function, _, _ in batch if isinstance(function, EpisodeWrite)]
        with write_turn(), transaction.atomic():
            if episodes:
                write_all(episodes)  # the inserts as one statement
            for function, _, _ in batch:
                if not isinstance(function, EpisodeWrite):
                    function()
        return [None] * len(batch)
    except Exception as error:
        close_old_connections()
        if len(batch) == 1:
            logger.exception("An episode write failed")
            return [error]
    # One failing write must not cost the others: each on its own.
    return [_exception_of(function) for function, _, _ in batch]


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


def _settle(settled):
    for future, outcome in settled:
        if future.done():  # its request was cancelled (the client went away)
            continue
        if outcome is None:
            future.set_result(None)
        else:
            future.set_exception(outcome)


writer = Writer()
