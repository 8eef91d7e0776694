"""The production server: `python -m gymapi.serve [--host H] [--port P]`.

uvicorn with uvloop and httptools, chosen by measurement over daphne, granian
and hypercorn (README, Performance; `python -m bench.run --servers ...`). It
serves HTTP and WebSocket in one process with the application of
gymapi/asgi.py, whose lifespan starts and stops the server (gymapi/lifecycle.py),
and one process is the rule: the environments live in it. `make run`, the
Dockerfile, `make bench`, the tests' servers and `manage.py runserver` all
start it here.

SIGTERM or SIGINT (Ctrl-C) stops it cleanly: it stops accepting, answers the
requests in flight, closes every instance (its running episode written, the
instance marked closed), then exits with status 0.
"""

import argparse
import os
import signal

import uvicorn

from gymapi.protocol import GuardedHttpToolsProtocol, raise_open_files_limit


class Server(uvicorn.Server):
    """uvicorn's server, which ends the MJPEG streams as soon as it stops accepting: they
    run until their instance closes, and would hold up its wait for the requests in flight."""

    async def shutdown(self, sockets=None):
        from gymapi.lifecycle import stopping

        stopping()
        await super().shutdown(sockets)


def config(host, port, *, access_log=False, graceful_timeout=10.0, **options):
    """uvicorn's configuration of the server."""
    return uvicorn.Config(
        "gymapi.asgi:application",
        host=host,
        port=port,
        loop="uvloop",
        http=GuardedHttpToolsProtocol,  # httptools, with a header timeout and a connection cap
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        lifespan="on",
        access_log=access_log,
        timeout_graceful_shutdown=graceful_timeout,
        **options,
    )


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
    settings = config(args.host, args.port, access_log=args.access_log, graceful_timeout=args.graceful_timeout)
    from gymapi.startup import access_mode

    uvicorn.config.logger.log(*access_mode(args.host))  # after the Config, which sets uvicorn's logging up
    raise_open_files_limit()
    # Once shut down, uvicorn raises the signal that stopped it again, under the
    # handler in place before it ran: with the default ones the process would
    # die of it (status -15) after shutting down cleanly. It has done its work.
    for handled in (signal.SIGINT, signal.SIGTERM):
        signal.signal(handled, lambda *_: None)
    server = Server(settings)
    server.run()
    if not server.started:
        raise SystemExit(3)  # as uvicorn.run: it could not start (the port taken, the start-up failed, ...)


if __name__ == "__main__":
    main()
