"""The production server: `python -m gymapi.serve [--host H] [--port P]`.

uvicorn with uvloop and httptools, chosen by measurement over daphne, granian
and hypercorn (README, Performance; `python -m bench.run --servers ...`). It
serves HTTP and WebSocket in one process with the Channels application in
gymapi/asgi.py, and one process is the rule: the environments live in it.
The loop writes the episode rows itself: on a SQLite file on its own thread
(envs/writer_inline.py), on PostgreSQL on an asynchronous connection of its
own (envs/writer_postgres.py). With ``GYMAPI_WRITER=process`` (the default on
any other database) a helper that holds no environment writes them, the
episode writer (``manage.py write_episodes``, envs/writer_process.py),
started and stopped with the server.
`make run`, the Dockerfile, `make bench` and the tests' server all start it here.

SIGTERM or SIGINT (Ctrl-C) stops it cleanly (``Server.shutdown``): it stops
accepting, answers the requests in flight, closes every instance (its running
episode written, the instance marked closed), then exits with status 0.
"""

import argparse
import asyncio
import os
import signal

import uvicorn

from gymapi.protocol import GuardedHttpToolsProtocol, raise_open_files_limit


class Server(uvicorn.Server):
    """uvicorn's server, whose shutdown also closes the environments.

    Channels' ProtocolTypeRouter has no lifespan, so this is the hook: it runs
    after uvicorn has stopped accepting and the open connections have finished
    (or ``timeout_graceful_shutdown`` ran out), so no request races the closing.
    """

    async def startup(self, sockets=None):
        from django.conf import settings

        from envs.writer import writer

        if settings.GYMAPI_WRITER == "inline":
            await writer.start_inline()  # the settings made sure the database is a SQLite file or PostgreSQL
        if settings.GYMAPI_WRITER == "process":
            # Episode rows are written by a process of their own (envs/writer_process.py),
            # ready before the first client is: it loads Django too, which takes a second.
            await writer.start_process()
        await super().startup(sockets)

    async def shutdown(self, sockets=None):
        from envs import rendering
        from envs.writer import writer

        rendering.streams_end()  # MJPEG streams run until their instance closes: they would hold up the wait
        await super().shutdown(sockets)
        await asyncio.get_running_loop().run_in_executor(None, close_instances)
        await writer.stop_process()
        await writer.stop_inline()


def close_instances():
    # In a thread of its own: Django refuses synchronous database calls from the event loop.
    from django.db import connections

    from envs.services import instances_close_all

    try:
        count = instances_close_all()
        if count:
            uvicorn.config.logger.info("Closed %d instance(s).", count)
    finally:
        connections.close_all()


def main(argv=None):
    parser = argparse.ArgumentParser(description="Serve gymapi (HTTP and WebSocket) in one process.")
    parser.add_argument("--host", default=os.getenv("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.getenv("PORT", "5000")))
    parser.add_argument("--access-log", action="store_true", help="log every request (costs throughput)")
    parser.add_argument(
        "--graceful-timeout",
        type=float,
        default=float(os.getenv("GYMAPI_GRACEFUL_TIMEOUT", "10")),
        help="at shutdown, seconds to wait for requests in flight before cancelling them (default 10)",
    )
    args = parser.parse_args(argv)
    config = uvicorn.Config(
        "gymapi.asgi:application",
        host=args.host,
        port=args.port,
        loop="uvloop",
        http=GuardedHttpToolsProtocol,  # httptools, with a header timeout and a connection cap
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        lifespan="off",  # Channels' router has no lifespan; start-up work runs at import (asgi.py)
        access_log=args.access_log,
        timeout_graceful_shutdown=args.graceful_timeout,
    )
    from gymapi.startup import access_mode

    uvicorn.config.logger.log(*access_mode(args.host))
    raise_open_files_limit()
    # Once shut down, uvicorn raises the signal that stopped it again, under the
    # handler in place before it ran: with the default ones the process would
    # die of it (status -15) after shutting down cleanly. It has done its work.
    for handled in (signal.SIGINT, signal.SIGTERM):
        signal.signal(handled, lambda *_: None)
    server = Server(config)
    server.run()
    if not server.started:
        raise SystemExit(3)  # as uvicorn.run: it could not start (the port taken, ...)


if __name__ == "__main__":
    main()
