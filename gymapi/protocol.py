"""The HTTP protocol the server speaks: uvicorn's httptools protocol with two guards
against clients that open connections and never finish a request (README,
Behind a reverse proxy).

uvicorn waits for a request's headers for as long as the client likes, and
accepts connections until the process runs out of file descriptors: a client
that opens thousands of connections, each sending half a request line, has
every later client refused until it leaves. So:

- A connection whose request has not got all its headers within
  ``GYMAPI_HEADER_TIMEOUT`` seconds of its first byte (or of the connection,
  when nothing comes) is closed; for the first request and for each later one
  on a keep-alive connection alike.
- At most ``GYMAPI_MAX_CONNECTIONS`` connections are held, WebSockets
  included. One more closes the connection that has waited longest for its
  headers, so that a client that sends its request at once is served while
  slow ones are held; when none is waiting (every connection is in a request
  or a WebSocket), the new one is answered 503 and closed at once.

Everything else (the parser, keep-alive, WebSocket upgrades, the loop) is
uvicorn's own.
"""

import logging
import resource
import time

from django.conf import settings
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

logger = logging.getLogger("uvicorn.error")

REFUSAL_TEXT = b"Too many connections (GYMAPI_MAX_CONNECTIONS): try again shortly.\n"
REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
    b"content-length: " + str(len(REFUSAL_TEXT)).encode() + b"\r\n\r\n" + REFUSAL_TEXT
)
WARN_EVERY = 60.0  # seconds: under a flood of connections, one line a minute, not one a connection
# Descriptors the process needs beside its connections: database, environments, logs.
RESERVED_FILES = 100


# The connections waiting for their headers, each with the time it began to wait, the longest
# waiting first (dicts keep their order). One server per process, so one table, and one sweep
# over it: a timer armed and cancelled for every request would cost each keep-alive request
# more than the table does.
WAITING = {}


class Shared:
    """What the protocols share beside the table: the loop's handle of the next sweep (while
    connections wait) and when the last warning went out. An object of its own, not attributes
    of the protocol class: assigning a class attribute invalidates CPython's attribute caches
    for every instance of the class, which cost each request more than the rest of the guard."""

    __slots__ = ("sweep", "last_warned")

    def __init__(self):
        self.sweep = None
        self.last_warned = 0.0


shared = Shared()


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's ``HttpToolsProtocol`` with a header timeout and a connection cap (the module's docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.header_timeout = settings.GYMAPI_HEADER_TIMEOUT
        self.max_connections = settings.GYMAPI_MAX_CONNECTIONS

    def connection_made(self, transport):
        super().connection_made(transport)
        if self.max_connections and len(self.connections) > self.max_connections:
            if not WAITING:
                warn("refusing connections: all %d are busy (GYMAPI_MAX_CONNECTIONS)", self.max_connections)
                transport.write(REFUSAL)
                transport.close()
                return
            warn("closing connections that wait for their headers to make room (GYMAPI_MAX_CONNECTIONS=%d)",
                 self.max_connections)
            next(iter(WAITING)).close_waiting()
        self.wait_for_headers()

    # The two methods below run for every request: the base class is called by name, which
    # costs less than super().

    def on_message_begin(self):
        HttpToolsProtocol.on_message_begin(self)
        self.wait_for_headers()  # a later request on a keep-alive connection: its own time from its first byte

    def on_headers_complete(self):
        WAITING.pop(self, None)  # before uvicorn's, which may hand the connection over to a WebSocket protocol
        HttpToolsProtocol.on_headers_complete(self)

    def connection_lost(self, exc):
        WAITING.pop(self, None)
        super().connection_lost(exc)

    def wait_for_headers(self):
        WAITING.pop(self, None)  # to the end of the table: it waits from now
        WAITING[self] = time.monotonic()
        if shared.sweep is None and self.header_timeout:
            self.sweep_later()

    def sweep_later(self):
        # A connection is closed between header_timeout and a quarter of it later.
        shared.sweep = self.loop.call_later(min(1.0, self.header_timeout / 4), self.sweep_waiting)

    def sweep_waiting(self):
        """Close the connections that have waited for their headers past the timeout."""
        shared.sweep = None
        now = time.monotonic()
        for protocol, since in list(WAITING.items()):
            if now - since < self.header_timeout:
                break  # the rest began to wait later
            protocol.close_waiting()
        if WAITING:
            self.sweep_later()

    def close_waiting(self):
        """Close this connection, which has not sent its headers (in time, or before the cap needed room)."""
        WAITING.pop(self, None)
        if not self.transport.is_closing():
            self.transport.close()


def warn(message, *args):
    """Log a warning, at most one every WARN_EVERY seconds."""
    now = time.monotonic()
    if now - shared.last_warned >= WARN_EVERY:
        shared.last_warned = now
        logger.warning(message, *args)


def raise_open_files_limit():
    """Raise this process's soft limit of open files to its hard limit, where every
    connection up to ``GYMAPI_MAX_CONNECTIONS`` fits; warn when they do not."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):  # an unlimited hard limit some systems refuse as a soft one
            pass
    cap = settings.GYMAPI_MAX_CONNECTIONS
    if cap and soft != resource.RLIM_INFINITY and cap + RESERVED_FILES > soft:
        logger.warning(
            "GYMAPI_MAX_CONNECTIONS=%d leaves fewer than %d of the %d files this process may open for the rest: "
            "lower it, or raise the limit (ulimit -n).", cap, RESERVED_FILES, soft,
        )
