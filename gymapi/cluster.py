"""`make cluster`: the Ray runtime on this machine, in the foreground (README, Scaling out).

    DATABASE_URL=postgres://... REDIS_URL=redis://... make cluster [FRONTS=2] [PORT=5000] [HOST=127.0.0.1]

It checks that ``DATABASE_URL`` (PostgreSQL, which every front shares) and
``REDIS_URL`` (the channel layer that carries events between fronts) are set
and answer, migrates the database, starts a local Ray head (``ray start
--head``, token authentication on) unless ``RAY_ADDRESS`` names a cluster, then
``FRONTS`` fronts (``python -m gymapi.serve``, ``GYMAPI_RUNTIME=ray``) on
consecutive ports from ``PORT``. Ctrl-C or SIGTERM stops what it started: the
fronts first, each shutting down cleanly, then the head (and the actors with it).
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def problem(message):
    print(f"make cluster: {message}", file=sys.stderr, flush=True)
    raise SystemExit(2)


def check_services():
    """DATABASE_URL and REDIS_URL set, PostgreSQL and Redis, answering: else a clear message and exit 2."""
    database, channels = os.getenv("DATABASE_URL"), os.getenv("REDIS_URL")
    if not database or not database.startswith(("postgres://", "postgresql://")):
        problem("DATABASE_URL must name the PostgreSQL database every front shares "
                "(e.g. DATABASE_URL=postgres://user@host:5432/gymapi).")
    if not channels:
        problem("REDIS_URL must name the Redis that carries events between fronts (e.g. REDIS_URL=redis://host:6379/0).")
    import psycopg
    import redis

    try:
        psycopg.connect(database, connect_timeout=5).close()
    except psycopg.Error as error:
        problem(f"PostgreSQL at DATABASE_URL does not answer: {error}".strip())
    try:
        redis.Redis.from_url(channels, socket_connect_timeout=5).ping()
    except redis.RedisError as error:
        problem(f"Redis at REDIS_URL does not answer: {error}")


def answers(host, port):
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


class Cluster:
    """The processes started, stopped in the reverse order (each in a process group of its own)."""

    def __init__(self):
        self.processes = []  # (name, Popen)

    def start(self, name, command, env):
        process = subprocess.Popen(command, cwd=BASE_DIR, env=env, start_new_session=True)
        self.processes.append((name, process))
        return process

    def stop(self):
        for name, process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    print(f"make cluster: {name} did not stop within 30 s; killing it.", flush=True)
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
            try:  # what the process left in its group (Ray's own daemons)
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def main(argv=None):
    parser = argparse.ArgumentParser(description="A local Ray head and FRONTS fronts on it, in the foreground.")
    parser.add_argument("--fronts", type=int, default=int(os.getenv("FRONTS", "2")))
    parser.add_argument("--host", default=os.getenv("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.getenv("PORT", "5000")))
    parser.add_argument("--ray-port", type=int, default=int(os.getenv("RAY_PORT", "6380")))
    args = parser.parse_args(argv)
    check_services()
    env = {**os.environ, "GYMAPI_RUNTIME": "ray", "RAY_AUTH_MODE": os.getenv("RAY_AUTH_MODE", "token")}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=BASE_DIR, env=env, check=True)

    stopping = []
    for handled in (signal.SIGINT, signal.SIGTERM):
        signal.signal(handled, lambda *_: stopping.append(True))
    cluster = Cluster()
    try:
        if not env.get("RAY_ADDRESS"):
            ray = str(Path(sys.executable).with_name("ray"))
            # Its token (~/.ray/auth_token), made once: the head and every front and worker use it.
            subprocess.run([ray, "get-auth-token", "--generate"], env=env, check=True, stdout=subprocess.DEVNULL)
            cluster.start("the Ray head", [
                ray, "start", "--head", f"--port={args.ray_port}", "--block", "--disable-usage-stats",
                "--include-dashboard=false",
            ], env)
            deadline = time.monotonic() + 120
            while not answers("127.0.0.1", args.ray_port):
                if time.monotonic() > deadline or stopping:
                    problem(f"the Ray head did not answer on port {args.ray_port} within 120 s.")
                time.sleep(0.5)
            env["RAY_ADDRESS"] = f"127.0.0.1:{args.ray_port}"
        for index in range(args.fronts):
            port = args.port + index
            cluster.start(f"front {port}", [sys.executable, "-m", "gymapi.serve", "--host", args.host, "--port", str(port)], env)
        print(f"make cluster: Ray at {env['RAY_ADDRESS']}; fronts on "
              f"{', '.join(f'http://{args.host}:{args.port + index}' for index in range(args.fronts))}. "
              "Ctrl-C stops them.", flush=True)
        while not stopping:
            for name, process in cluster.processes:
                if process.poll() is not None and not getattr(process, "reported", False):
                    process.reported = True
                    print(f"make cluster: {name} exited with {process.returncode}.", flush=True)
            time.sleep(0.5)
    finally:
        cluster.stop()
    print("make cluster: stopped.", flush=True)


if __name__ == "__main__":
    main()
