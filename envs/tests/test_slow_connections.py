"""The server's connections (gymapi/protocol.py, README Behind a reverse proxy): a
request whose headers are not complete within GYMAPI_HEADER_TIMEOUT has its
connection closed, the first request and later keep-alive ones alike; at most
GYMAPI_MAX_CONNECTIONS are held, a new one closing the connection that has
waited longest for its headers, or refused at once with a 503 when none is
waiting. A well-behaved client never hangs. On a real server with small limits."""

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from django.conf import settings as django_settings

from gymapi.testing.server import ServerProcess

HEADER_TIMEOUT, MAX_CONNECTIONS = 1.0, 20
REQUEST = b"GET /v1/envs/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    process = ServerProcess(
        tmp_path_factory.mktemp("slow"),
        GYMAPI_HEADER_TIMEOUT=str(HEADER_TIMEOUT),
        GYMAPI_MAX_CONNECTIONS=str(MAX_CONNECTIONS),
    ).start()
    yield process
    process.stop()


@contextlib.contextmanager
def sockets(server, count, send=b"GET /v1/en"):
    """``count`` connections to ``server``, each having sent ``send``; closed afterwards."""
    opened = []
    try:
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            if send:
                sock.sendall(send)
            opened.append(sock)
        yield opened
    finally:
        for sock in opened:
            sock.close()


def seconds_until_closed(sock, limit=10):
    """How long the server took to close ``sock`` (reading and dropping what it sends)."""
    started = time.monotonic()
    sock.settimeout(limit)
    while sock.recv(65536):
        pass
    return time.monotonic() - started


def is_closed(sock):
    sock.settimeout(0.5)
    try:
        return sock.recv(65536) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def get(server, timeout=5):
    """GET /v1/envs/ on a new connection: its status (a refusal raises)."""
    with urllib.request.urlopen(f"{server.url}/v1/envs/", timeout=timeout) as response:
        return response.status


def test_it_closes_a_connection_whose_request_line_stops_halfway(server):
    with sockets(server, 1) as [sock]:
        assert HEADER_TIMEOUT * 0.8 < seconds_until_closed(sock) < HEADER_TIMEOUT + 3


def test_it_closes_a_connection_that_sends_nothing(server):
    with sockets(server, 1, send=b"") as [sock]:
        assert HEADER_TIMEOUT * 0.8 < seconds_until_closed(sock) < HEADER_TIMEOUT + 3


def test_it_closes_a_keep_alive_connection_whose_next_request_stops_halfway(server):
    with sockets(server, 1, send=REQUEST) as [sock]:
        sock.settimeout(5)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
        sock.sendall(b"GET /v1/envs/ HTTP/1.1\r\nHost: 127.0")
        # Data arrived, so uvicorn's keep-alive timer (5 s) no longer runs: the header timeout closes it.
        assert seconds_until_closed(sock) < HEADER_TIMEOUT + 3


def test_it_answers_a_slow_request_whose_headers_come_in_time(server):
    with sockets(server, 1, send=b"GET /v1/en") as [sock]:
        for part in (b"vs/ HTTP/1.1\r\n", b"Host: 127.0.0.1\r\n", b"\r\n"):
            time.sleep(HEADER_TIMEOUT / 5)
            sock.sendall(part)
        sock.settimeout(5)
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 200 ")


def test_a_client_is_answered_while_more_half_open_connections_than_the_cap_are_held(server):
    with sockets(server, MAX_CONNECTIONS * 3) as held:
        started = time.monotonic()
        assert get(server) == 200
        assert time.monotonic() - started < 2
        time.sleep(0.2)
        still_open = [sock for sock in held if not is_closed(sock)]
    assert len(still_open) < MAX_CONNECTIONS  # the oldest made room for the newer ones


def test_when_every_connection_is_busy_a_new_one_is_refused_at_once_with_a_503(server):
    # Requests whose headers came but whose bodies never end: busy, not waiting for headers.
    busy = b"POST /v1/envs/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
    with sockets(server, MAX_CONNECTIONS, send=busy):
        time.sleep(HEADER_TIMEOUT * 1.5)  # past the header timeout: these stay, they are not waiting for headers
        started = time.monotonic()
        with pytest.raises(urllib.error.HTTPError) as refused:
            get(server)
        assert time.monotonic() - started < 1
        assert refused.value.code == 503
        assert "GYMAPI_MAX_CONNECTIONS" in refused.value.read().decode()
    time.sleep(0.5)  # the server sees them close
    assert get(server) == 200


def test_websockets_still_work_through_it(server):
    from websockets.sync.client import connect

    with connect(f"ws://127.0.0.1:{server.port}/ws/step/", open_timeout=5) as websocket:
        websocket.send(json.dumps({"op": "create", "env_id": "CartPole-v1"}))
        assert "instance_id" in json.loads(websocket.recv(timeout=10))
        time.sleep(HEADER_TIMEOUT * 1.5)  # a WebSocket waits for no headers
        websocket.send(json.dumps({"op": "create", "env_id": "nope"}))
        assert json.loads(websocket.recv(timeout=10))["status"] == 400


def test_it_raises_its_open_files_limit_to_the_hard_one_at_start():
    script = (
        "import resource; soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE); "
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard)); "
        "from gymapi.protocol import raise_open_files_limit; raise_open_files_limit(); "
        "print(resource.getrlimit(resource.RLIMIT_NOFILE) == (hard, hard))"
    )
    output = subprocess.run(
        [sys.executable, "-c", script], env={**os.environ, "DJANGO_SETTINGS_MODULE": "gymapi.settings"},
        capture_output=True, text=True, check=True, cwd=django_settings.BASE_DIR,
    ).stdout
    assert output.strip() == "True"
