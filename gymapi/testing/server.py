"""A real server process for tests that speak HTTP or WebSocket over a socket.

pytest-django's live_server is WSGI-only; these tests need the ASGI app with
its WebSockets, served as in production (gymapi/serve.py), and a database of
their own.
"""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """The production server on a free loopback port, with a fresh SQLite database."""

    def __init__(self, tmp_dir, **env):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database = Path(tmp_dir) / "server.sqlite3"
        self.env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{self.database}",
            "DEBUG": "0",
            # Its episode videos (and legacy mode's) beside its database, never in the checkout.
            "MEDIA_ROOT": str(Path(tmp_dir) / "media"),
            **env,
        }
        self.process = None

    def start(self):
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=BASE_DIR, env=self.env, check=True
        )
        self.log = open(self.database.with_suffix(".log"), "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gymapi.serve", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=BASE_DIR,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}; see {self.log.name}")
            try:
                urllib.request.urlopen(f"{self.url}/v1/envs/", timeout=1).read()
                return self
            except urllib.error.HTTPError:  # it answers (a 401 when it requires keys)
                return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not answer within 60 s; see {self.log.name}")

    def __enter__(self):
        """The server, started already (``ServerProcess(...).start()``): stopped on leaving the block."""
        return self

    def __exit__(self, *exc):
        self.stop()

    def manage(self, *args):
        """Run ``manage.py *args`` on this server's database; returns what it printed."""
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=self.env, check=True, capture_output=True, text=True
        )
        return done.stdout

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if getattr(self, "log", None):
            self.log.close()
