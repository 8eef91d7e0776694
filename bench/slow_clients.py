"""`python -m bench.slow_clients`: half-sent requests against the production server,
and what a well-behaved client gets meanwhile (README, Behind a reverse proxy).

    python -m bench.slow_clients                       # 20,000 half-sent requests, held 20 s
    SLOW_SOCKETS=2000 SLOW_HOLD=5 python -m bench.slow_clients

It starts the server (gymapi/serve.py, on a fresh SQLite database, loopback
only; ``SLOW_SERVER_ENV`` adds variables, e.g. ``GYMAPI_MAX_CONNECTIONS=500``).
``SLOW_PROCESSES`` attacker processes then open ``SLOW_SOCKETS`` connections
between them, as fast as they can, each sending half a request line and
nothing more, and open a new one for each the server closes, until
``SLOW_HOLD`` seconds after the last was opened (or ``SLOW_RAMP`` seconds, if
they could not all be opened). Several processes, because one process may hold
no more descriptors than the server. Meanwhile a client asks ``GET /v1/envs/``
every 0.2 s, each time on a new connection, waiting at most 5 s.

It prints the sockets the attackers held at their most, and the client's
answers while they held them: answered, refused (the connection closed, or a
503) and timed out (no answer within 5 s), with the median and worst time of
the answers. The target: no time-outs.
"""

import http.client
import multiprocessing
import os
import resource
import selectors
import socket
import statistics
import tempfile
import threading
import time

from gymapi.testing.server import ServerProcess

SOCKETS = int(os.getenv("SLOW_SOCKETS", "20000"))
PROCESSES = int(os.getenv("SLOW_PROCESSES", "2"))
HOLD = float(os.getenv("SLOW_HOLD", "20"))
RAMP = float(os.getenv("SLOW_RAMP", "60"))
PROBE_EVERY, PROBE_TIMEOUT = 0.2, 5.0
HALF_A_REQUEST = b"GET /v1/en"


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def attack(port, count, held, stop):
    """Hold ``count`` half-sent requests open (``held``: how many now), replacing closed ones, until ``stop``."""
    raise_fd_limit()
    selector = selectors.DefaultSelector()
    sockets = set()
    while not stop.is_set():
        while len(sockets) < count and not stop.is_set():
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=1)
                sock.sendall(HALF_A_REQUEST)
            except OSError:
                break  # the server accepts no more for now (or we hold all our descriptors)
            sock.setblocking(False)
            sockets.add(sock)
            selector.register(sock, selectors.EVENT_READ)
            held.value = len(sockets)
        for key, _ in selector.select(timeout=0.05):
            try:
                closed = not key.fileobj.recv(65536)
            except OSError:
                closed = True
            if closed:  # the server closed it (or answered it): forget it, open another
                selector.unregister(key.fileobj)
                key.fileobj.close()
                sockets.discard(key.fileobj)
        held.value = len(sockets)
    for sock in sockets:
        sock.close()


def probe(port, results, stop):
    """Ask GET /v1/envs/ every PROBE_EVERY seconds; append (outcome, seconds) to ``results``."""
    while not stop.is_set():
        started = time.monotonic()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=PROBE_TIMEOUT)
        try:
            connection.request("GET", "/v1/envs/")
            status = connection.getresponse().status
            outcome = "answered" if status == 200 else "refused"
        except TimeoutError:
            outcome = "timed out"
        except (OSError, http.client.HTTPException) as error:
            outcome = f"refused ({type(error).__name__})"  # closed or reset: the client knows at once
        finally:
            connection.close()
        results.append((outcome, time.monotonic() - started))
        stop.wait(PROBE_EVERY)


def main():
    raise_fd_limit()
    extra = dict(item.split("=", 1) for item in os.getenv("SLOW_SERVER_ENV", "").split() if item)
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(tmp, LOG_LEVEL="WARNING", **extra).start()
        try:
            run(server.port)
        finally:
            server.stop()


def run(port):
    context = multiprocessing.get_context("fork")
    stop = context.Event()
    counts = [context.Value("i", 0) for _ in range(PROCESSES)]
    attackers = [
        context.Process(target=attack, args=(port, SOCKETS // PROCESSES, count, stop), daemon=True) for count in counts
    ]
    for attacker in attackers:
        attacker.start()
    results, probing = [], threading.Event()
    prober = threading.Thread(target=probe, args=(port, results, probing), daemon=True)
    try:
        started = time.monotonic()
        most = 0
        while time.monotonic() - started < RAMP and most < SOCKETS:
            time.sleep(0.5)
            most = max(most, sum(count.value for count in counts))
        ramp = time.monotonic() - started
        prober.start()
        held_until = time.monotonic() + HOLD
        while time.monotonic() < held_until:
            time.sleep(0.5)
            most = max(most, sum(count.value for count in counts))
        probing.set()
        prober.join(PROBE_TIMEOUT + 1)
    finally:
        stop.set()
        for attacker in attackers:
            attacker.join(10)
            if attacker.is_alive():
                attacker.kill()
    report(most, ramp, results)


def report(most, ramp, results):
    outcomes = {}
    for outcome, seconds in results:
        outcomes.setdefault(outcome, []).append(seconds)
    print(f"attackers: {PROCESSES} processes held at most {most:,} half-sent requests (of {SOCKETS:,}; {ramp:.0f} s to open)")
    print(f"client over {HOLD:g} s: {len(results)} requests, none timed out" if "timed out" not in outcomes else
          f"client over {HOLD:g} s: {len(results)} requests, {len(outcomes['timed out'])} TIMED OUT")
    for outcome, times in sorted(outcomes.items()):
        print(f"  {outcome}: {len(times)}, median {statistics.median(times) * 1000:.1f} ms, worst {max(times) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
