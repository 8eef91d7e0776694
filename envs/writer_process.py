"""Episode rows written by a process of their own, for the production server.

Why a process: the writer thread (envs/writer.py) holds the interpreter lock
while it builds and commits a batch, and each wake-up takes the lock from the
event loop that answers every client. Under `wrk` with 8 connections that
cost about a fifth of the server's steps; a separate process shares no lock
with the loop, and talking to it costs the loop a write and a read on a pipe.

The server (gymapi/serve.py) starts it as ``manage.py write_episodes`` with
its own environment and settings, less the apps the writes do not need
(gymapi/settings_writer.py), so it writes to the same database. Each
episode write (``recording.EpisodeWrite``) goes down the child's stdin as a
frame; the child makes every write that has arrived in one transaction
(``recording.make_writes``, as the thread does) and answers, on its stdout,
one frame per batch: for each write, None or the error that stopped it. An
answer waits for its row exactly as with the thread: nothing a client saw end
is missing after a crash.

If the child dies (killed, out of memory), the writes it had not answered are
made again by the writer thread, inserting only rows that are not there yet
(the child may have committed them before dying), and every write after that
goes to the thread: the server keeps answering, a little slower, and logs
why. It ends with the server: when stopped, or when its stdin reaches its end
because the server died.
"""

import asyncio
import functools
import logging
import os
import pickle
import signal
import struct
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connections

from .recording import make_writes, write_all

logger = logging.getLogger(__name__)

MANAGE_PY = Path(__file__).resolve().parent.parent / "manage.py"
HEADER = struct.Struct("!I")
READY = "ready"  # the child's first frame


def frame(value):
    """``value`` pickled, after its length: what one side sends the other (both are this code)."""
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(data)) + data


class Frames:
    """The values of the frames in a byte stream, as its pieces arrive."""

    def __init__(self):
        self.buffer = bytearray()

    def feed(self, data):
        """The values of the frames ``data`` completes (a list, maybe empty)."""
        self.buffer += data
        values, start, size = [], 0, len(self.buffer)
        while size - start >= HEADER.size:
            (length,) = HEADER.unpack_from(self.buffer, start)
            end = start + HEADER.size + length
            if end > size:
                break
            values.append(pickle.loads(self.buffer[start + HEADER.size : end]))
            start = end
        del self.buffer[:start]
        return values


class WriteFailed(DatabaseError):
    """A write the writer process could not make; its message is the child's error."""


class WriterProcess:
    """The server's end of the writer process, on the event loop that started it."""

    def __init__(self, fallback):
        self.fallback = fallback  # the Writer, whose thread takes over if the child dies
        self.loop = None
        self.transport = None
        self.stdin = None
        self.alive = False
        self.stopping = False
        self.pending = {}  # sequence number -> (write, future), in the order sent
        self.sequence = 0
        self.frames = Frames()
        self.ready = None
        self.ended = None

    async def start(self, timeout=60.0):
        """Start the child and wait until it is ready to write (it loads Django and the apps first)."""
        self.loop = asyncio.get_running_loop()
        self.ready = self.loop.create_future()
        self.ended = self.loop.create_future()
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "gymapi.settings_writer",
            "GYMAPI_SERVER_SETTINGS": settings.SETTINGS_MODULE,
        }
        self.transport, _ = await self.loop.subprocess_exec(
            lambda: _ChildProtocol(self),
            sys.executable, str(MANAGE_PY), "write_episodes",
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None, env=env,
        )
        self.stdin = self.transport.get_pipe_transport(0)
        self.alive = True
        try:
            await asyncio.wait_for(asyncio.shield(self.ready), timeout)
        except asyncio.TimeoutError:
            self.transport.kill()
            await self.ended
            raise OSError(f"the episode writer process was not ready within {timeout} s") from None
        if not self.alive:
            raise OSError(f"the episode writer process ended at start (status {self.transport.get_returncode()})")
        logger.info("Episode writer process started (pid %s).", self.transport.get_pid())

    def write(self, write):
        """A future of ``write`` (an ``EpisodeWrite``) made by the child."""
        future = self.loop.create_future()
        self.sequence += 1
        self.pending[self.sequence] = (write, future)
        self.stdin.write(frame((self.sequence, write)))
        return future

    async def stop(self, timeout):
        """Let the child make what it was given and end (killed after ``timeout`` seconds)."""
        self.stopping = True
        if self.alive:
            self.stdin.close()  # its end of input: it finishes its batch and exits
        try:
            await asyncio.wait_for(asyncio.shield(self.ended), timeout)
        except asyncio.TimeoutError:
            logger.error("The episode writer process did not end within %s s: killed.", timeout)
            self.transport.kill()
            await self.ended
        self.transport.close()

    def _answered(self, data):
        for answers in self.frames.feed(data):
            if answers == READY:
                self.ready.set_result(None)
                continue
            for sequence, error in answers:
                _, future = self.pending.pop(sequence, (None, None))
                if future is None or future.done():  # its request went away
                    continue
                if error is None:
                    future.set_result(None)
                else:
                    future.set_exception(WriteFailed(error))

    def _ended(self):
        """The child is gone, and its output read: what it did not answer goes to the thread."""
        self.alive = False
        if self.ready.done() and not self.stopping:  # one that never was ready: start() says why
            logger.error(
                "The episode writer process ended (status %s); episode rows are written by a thread from now on.",
                self.transport.get_returncode(),
            )
        pending, self.pending = self.pending, {}
        for write, future in pending.values():
            # Its row inserted only if the child had not committed it before dying.
            again = self.fallback.write_in_thread(functools.partial(write_all, [write], replay=True), self.loop)
            again.add_done_callback(lambda done, future=future: pass_on(done, future))
        if not self.ready.done():
            self.ready.set_result(None)
        if not self.ended.done():
            self.ended.set_result(None)


def pass_on(done, future):
    """Settle ``future`` as ``done`` (the same write, made again elsewhere) was settled."""
    if future.done():
        return
    if done.cancelled():
        future.cancel()
    elif done.exception() is not None:
        future.set_exception(done.exception())
    else:
        future.set_result(None)


class _ChildProtocol(asyncio.SubprocessProtocol):
    def __init__(self, owner):
        self.owner = owner

    def pipe_data_received(self, fd, data):
        if fd == 1:
            self.owner._answered(data)

    def connection_lost(self, exc):
        # Called once the child has exited and its pipes are closed: every answer it wrote is read.
        self.owner._ended()


# --- the child: manage.py write_episodes --------------------------------------------


def serve_writes(stdin=0, stdout=1):
    """Make the writes framed on ``stdin`` and answer on ``stdout`` until ``stdin`` ends.

    Ctrl-C in the server's terminal reaches this process too: it is ignored
    here, since the server ends it once it has written its last rows.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    answers = os.dup(stdout)
    os.dup2(2, stdout)  # anything else printed goes to stderr, not into the answers
    frames = Frames()
    _send(answers, frame(READY))
    try:
        while True:
            data = os.read(stdin, 1 << 20)
            if not data:
                return
            batch = frames.feed(data)
            if not batch:
                continue
            outcomes = make_writes([write for _, write in batch])
            _send(answers, frame([
                (sequence, None if outcome is None else f"{type(outcome).__name__}: {outcome}")
                for (sequence, _), outcome in zip(batch, outcomes)
            ]))
    finally:
        connections.close_all()


def _send(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
