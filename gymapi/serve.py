"""The production server: `python -m gymapi.serve [--host H] [--port P]`.

uvicorn with uvloop and httptools, chosen by measurement over daphne, granian
and hypercorn (README, Performance; `python -m bench.run --servers ...`). It
serves HTTP and WebSocket in one process with the Channels application in
gymapi/asgi.py, and one process is the rule: the environments live in it.
`make run`, the Dockerfile, `make bench` and the tests' server all start it here.
"""

import argparse
import os

import uvicorn


def main(argv=None):
    parser = argparse.ArgumentParser(description="Serve gymapi (HTTP and WebSocket) in one process.")
    parser.add_argument("--host", default=os.getenv("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.getenv("PORT", "5000")))
    parser.add_argument("--access-log", action="store_true", help="log every request (costs throughput)")
    args = parser.parse_args(argv)
    uvicorn.run(
        "gymapi.asgi:application",
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        lifespan="off",  # Channels' router has no lifespan; start-up work runs at import (asgi.py)
        access_log=args.access_log,
    )


if __name__ == "__main__":
    main()
