"""`make bench`: gymapi against a FastAPI peer, measured side by side in one run.

Each server is started on a free loopback port, measured, and stopped by
its PID. In each of ROUNDS rounds, ours and the reference run side by side
and are measured in turns, so that every run of ours has a reference run
next to it in time; then ours with recording on and off, the same way (on
SQLite, and on PostgreSQL when one answers at BENCH_POSTGRES_URL); then
a fresh ours and reference for the memory row. The table gives each row's
median and, as its ratio, the median of the paired runs' ratios. Machines
are noisy (this one's speed drifts within a minute): quote ratios from one
run, never numbers from different runs.

    python -m bench.run                      # the table (about 4 minutes)
    BENCH_QUICK=1 python -m bench.run        # a smoke test: tiny durations, one round
    python -m bench.run --servers daphne,uvicorn,granian,hypercorn
                                             # ours under each ASGI server (REST rows)
    python -m bench.run --actions            # only recording with actions vs without

Rows whose server side does not exist yet are probed and print
"n/a (not built yet)"; their measuring functions (ws_step_rate,
vector_step_rate, pong_step_rate) are written against the protocol in issue 5.
"""

import argparse
import contextlib
import http.client
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

import msgpack

BASE_DIR = Path(__file__).resolve().parent.parent
QUICK = os.getenv("BENCH_QUICK", "0") not in ("", "0")
ROUNDS = int(os.getenv("BENCH_ROUNDS", "1" if QUICK else "3"))
SECONDS = float(os.getenv("BENCH_SECONDS", "0.5" if QUICK else "4"))  # each timed loop
IDLE_INSTANCES = int(os.getenv("BENCH_IDLE_INSTANCES", "10" if QUICK else "1000"))
WRK_CONNECTIONS = 8
# The PostgreSQL server the recording rows also run on (two throwaway databases), when it answers.
POSTGRES_URL = os.getenv("BENCH_POSTGRES_URL", os.getenv("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test"))
NOT_BUILT = "n/a (not built yet)"
HOST = "127.0.0.1"


# --- the servers -------------------------------------------------------------------------------


def free_port():
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def ours_command(server, port):
    """How ours is started: ``production`` is exactly what `make run` and the Dockerfile run."""
    py, app = sys.executable, "gymapi.asgi:application"
    return {
        "production": [py, "-m", "gymapi.serve", "--host", HOST, "--port", str(port)],
        "daphne": [py, "-m", "daphne", "-b", HOST, "-p", str(port), app],
        "uvicorn": [py, "-m", "uvicorn", app, "--host", HOST, "--port", str(port), "--loop", "uvloop",
                    "--http", "httptools", "--lifespan", "off", "--no-access-log"],
        "granian": [py, "-m", "granian", "--interface", "asginl", "--host", HOST, "--port", str(port),
                    "--loop", "uvloop", "--log-level", "warning", app],
        "hypercorn": [py, "-m", "hypercorn", "-b", f"{HOST}:{port}", "-k", "uvloop", app],
    }[server]


def reference_command(port):
    # As its users run it: uvicorn's default options (which pick uvloop and
    # httptools by themselves when they are installed).
    return [sys.executable, "-m", "uvicorn", "bench.reference_fastapi:app", "--host", HOST, "--port", str(port)]


class Server:
    """One server process on a free loopback port, stopped by its PID."""

    def __init__(self, name, command_for_port, env=None, cwd=BASE_DIR):
        self.name = name
        self.port = free_port()
        self.command = command_for_port(self.port)
        self.env = {**os.environ, **(env or {})}
        self.cwd = cwd  # the code it runs: this checkout, or another commit's (bench/against.py)
        self.process = None

    def __enter__(self):
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(self.command, cwd=self.cwd, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log.read().decode()[-3000:]}")
            try:
                status, _ = request(self.connect(), "GET", "/v1/envs/")
                if status < 500:
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer within 90 s")

    def __exit__(self, *exc):
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.seek(0)
        self.output = self.log.read().decode(errors="replace")  # what it logged, for a report of errors
        self.log.close()

    def connect(self):
        return http.client.HTTPConnection(HOST, self.port, timeout=30)

    def rss_bytes(self):
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")


JSON_HEADERS = {"Content-Type": "application/json"}


def request(conn, method, path, body=None, headers=JSON_HEADERS):
    """One request on a keep-alive connection: (status, raw body)."""
    conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    response = conn.getresponse()
    return response.status, response.read()


def create(conn, env_id="CartPole-v1", **fields):
    status, body = request(conn, "POST", "/v1/envs/", {"env_id": env_id, **fields})
    if status != 201 and status != 200:
        raise RuntimeError(f"create {env_id}: {status} {body[:300]!r}")
    instance_id = json.loads(body)["instance_id"]
    status, body = request(conn, "POST", f"/v1/envs/{instance_id}/reset/", {})
    if status != 200:
        raise RuntimeError(f"reset {env_id}: {status} {body[:300]!r}")
    return instance_id


# --- the measurements --------------------------------------------------------------------------


def inprocess_rate(seconds):
    """The ceiling: gym.make's CartPole stepped in this process, no server at all."""
    import gymnasium as gym

    env = gym.make("CartPole-v1")
    env.reset(seed=0)
    steps, action = 0, 0
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()
    while True:
        for _ in range(1000):
            action ^= 1
            _, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                env.reset()
        steps += 1000
        if time.perf_counter() >= deadline:
            break
    return steps / (time.perf_counter() - start)


def rest_step_rate(server, seconds, env_id="CartPole-v1", headers=JSON_HEADERS):
    """One keep-alive stdlib client stepping one instance, resetting on termination.

    Returns (steps/s, mean step body bytes)."""
    conn = server.connect()
    instance_id = create(conn, env_id)
    step_path, reset_path = f"/v1/envs/{instance_id}/step/", f"/v1/envs/{instance_id}/reset/"
    steps, size, action = 0, 0, 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        action ^= 1
        conn.request("POST", step_path, body=b'{"action":%d}' % action, headers=headers)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"step: {response.status} {body[:300]!r}")
        steps += 1
        size += len(body)
        if response.getheader("Content-Type") == MSGPACK:
            answer = msgpack.unpackb(body)
            over = answer["terminated"] or answer["truncated"]
        else:
            over = b'"terminated":true' in body or b'"truncated":true' in body
        if over:
            request(conn, "POST", reset_path, {})
    rate = steps / (time.perf_counter() - start)
    conn.close()
    return rate, size / max(steps, 1)


def wrk_step_rate(server, seconds):
    """Debian's wrk, 8 connections on 8 CartPole instances (bench/wrk_step.lua)."""
    conn = server.connect()
    ids = [create(conn) for _ in range(WRK_CONNECTIONS)]
    conn.close()
    duration = max(1, round(seconds))
    command, env = wrk_command(server, ids, duration)
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    steps, _ = wrk_counts(result.stdout + result.stderr, server.name)
    return steps / duration


def wrk_command(server, ids, seconds):
    """``(command, environment)`` of wrk stepping ``server``'s instances ``ids`` for ``seconds``
    (bench/wrk_step.lua): a connection and a thread for each instance."""
    command = ["wrk", f"-t{len(ids)}", f"-c{len(ids)}", f"-d{seconds}s", "--timeout", "10s",
               "-s", str(BASE_DIR / "bench" / "wrk_step.lua"), f"http://{HOST}:{server.port}"]
    return command, {**os.environ, "WRK_INSTANCES": ",".join(ids)}


def wrk_counts(output, name):
    """``(steps, resets)`` that wrk_step.lua printed; raises when it printed none or saw errors."""
    match = re.search(r"STEPS (\d+) RESETS (\d+) ERRORS (\d+)", output)
    if match is None:
        raise RuntimeError(f"wrk printed no counts:\n{output}")
    steps, resets, errors = map(int, match.groups())
    if errors:
        raise RuntimeError(f"wrk saw {errors} non-200 answers from {name}")
    return steps, resets


def ws_step_rate(server, seconds, client="gymapi"):
    """Target 2: ours' ws/envs/{id}/step/, one client in lock-step, {"op": "step", "action"}
    answered with the REST step body. ``client`` is "gymapi" (gymapi_client.StepSocket:
    a blocking socket, like http.client in the REST rows) or "websockets" (websockets'
    sync client, which reads in a thread of its own). None when the route is missing."""
    conn = server.connect()
    instance_id = create(conn)
    conn.close()
    path = f"/ws/envs/{instance_id}/step/"
    if client == "gymapi":
        from gymapi_client import GymapiError, StepSocket

        try:
            socket_ = StepSocket(f"http://{HOST}:{server.port}", path, timeout=10)
        except GymapiError:
            return None
        send, receive, close = socket_.send_text, socket_.receive_text, socket_.close
    else:
        from websockets.exceptions import InvalidHandshake, InvalidStatus
        from websockets.sync.client import connect

        try:
            socket_ = connect(f"ws://{HOST}:{server.port}{path}", open_timeout=10).__enter__()
        except (InvalidStatus, InvalidHandshake, OSError):
            return None
        send, receive, close = socket_.send, lambda: socket_.recv(timeout=10), socket_.close
    try:
        send('{"op":"reset"}')
        receive()
        # The client's own work as in rest_step_rate: bodies written once, answers
        # read as text (a JSON parse per step would be the client's cost, not the server's).
        messages = ('{"op":"step","action":0}', '{"op":"step","action":1}')
        steps, action = 0, 0
        start = time.perf_counter()
        deadline = start + seconds
        while time.perf_counter() < deadline:
            action ^= 1
            send(messages[action])
            reply = receive()
            if '"observation"' not in reply:
                raise RuntimeError(f"ws step: {reply[:300]}")
            steps += 1
            if '"done":true' in reply:
                send('{"op":"reset"}')
                receive()
        return steps / (time.perf_counter() - start)
    finally:
        close()


def ws_pipelined_rate(server, seconds, instances=8):
    """ws/step/ from one client driving ``instances`` CartPoles on one socket: each round
    sends a step for every instance, then reads the answers (ids echoed). None when missing."""
    from websockets.exceptions import InvalidHandshake, InvalidStatus
    from websockets.sync.client import connect

    conn = server.connect()
    ids = [create(conn) for _ in range(instances)]
    conn.close()
    try:
        socket_ = connect(f"ws://{HOST}:{server.port}/ws/step/", open_timeout=10)
    except (InvalidStatus, InvalidHandshake, OSError):
        return None

    def exchange(messages):
        for message in messages:
            socket_.send(json.dumps(message))
        replies = [json.loads(socket_.recv(timeout=10)) for _ in messages]
        for reply in replies:
            if "detail" in reply:
                raise RuntimeError(f"ws/step/: {reply}")
        return replies

    with socket_:
        exchange([{"op": "reset", "instance_id": instance_id, "id": n} for n, instance_id in enumerate(ids)])
        steps, action = 0, 0
        start = time.perf_counter()
        deadline = start + seconds
        while time.perf_counter() < deadline:
            action ^= 1
            replies = exchange([{"op": "step", "instance_id": i, "action": action, "id": i} for i in ids])
            steps += len(replies)
            over = [reply["id"] for reply in replies if reply["done"]]
            if over:
                exchange([{"op": "reset", "instance_id": i, "id": i} for i in over])
        return steps / (time.perf_counter() - start)


def vector_step_rate(server, seconds, num_envs=64):
    """Hook for target 3: POST /v1/vector_envs/ with 64 CartPoles, one client, counted
    in env-steps/s (autoreset: no resets by the client). None when the route is missing."""
    conn = server.connect()
    status, body = request(conn, "POST", "/v1/vector_envs/", {"env_id": "CartPole-v1", "num_envs": num_envs})
    if status in (403, 404, 405):  # Django's CSRF 403 for an unknown POST route, or its 404
        return None
    if status not in (200, 201):
        raise RuntimeError(f"vector create: {status} {body[:300]!r}")
    created = json.loads(body)
    vector_id = created.get("instance_id") or created.get("id")
    base = f"/v1/vector_envs/{vector_id}/"
    status, body = request(conn, "POST", base + "reset/", {})
    if status != 200:
        raise RuntimeError(f"vector reset: {status} {body[:300]!r}")
    steps, action = 0, 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        action ^= 1
        status, body = request(conn, "POST", base + "step/", {"action": [action] * num_envs})
        if status != 200:
            raise RuntimeError(f"vector step: {status} {body[:300]!r}")
        steps += num_envs
    return steps / (time.perf_counter() - start)


MSGPACK = "application/msgpack"


def pong_step_rate(server, seconds, binary=False):
    """ALE/Pong-v5 steps/s and mean body bytes, JSON or (target 4) msgpack by content
    negotiation. With ``binary``, None when the server does not answer msgpack."""
    headers = dict(JSON_HEADERS)
    if binary:
        headers["Accept"] = MSGPACK
        conn = server.connect()
        instance_id = create(conn, "ALE/Pong-v5")
        conn.request("POST", f"/v1/envs/{instance_id}/step/", body=b'{"action":0}', headers=headers)
        response = conn.getresponse()
        response.read()
        conn.close()
        if response.status != 200 or not (response.getheader("Content-Type") or "").startswith(MSGPACK):
            return None
    return rest_step_rate(server, seconds, env_id="ALE/Pong-v5", headers=headers)


def idle_memory(server, count):
    """RSS added by ``count`` created-and-reset CartPole instances, scaled to 1,000."""
    conn = server.connect()
    create(conn)  # imports and first-use caches are paid before the baseline
    time.sleep(0.3)
    before = server.rss_bytes()
    for _ in range(count):
        create(conn)
    time.sleep(0.3)
    after = server.rss_bytes()
    conn.close()
    return (after - before) / count * 1000 / 2**20


def optional(measure, *args, **kwargs):
    """A row whose server side is built by others: its number, None when the route is
    missing, or FAILED (logged) when the route exists but the measurement broke."""
    try:
        return measure(*args, **kwargs)
    except Exception as error:  # reported in the table, never turned into a number
        log(f"{measure.__name__} failed: {type(error).__name__}: {error}")
        return FAILED


FAILED = "failed"


# --- the table ---------------------------------------------------------------------------------


def median(values):
    numbers = [value for value in values if isinstance(value, (int, float))]
    if numbers:
        return statistics.median(numbers)
    return FAILED_CELL if FAILED in values else None


FAILED_CELL = "failed (see the log above)"


def fmt(value, unit=""):
    if value is None:
        return NOT_BUILT
    if isinstance(value, str):
        return value
    return f"{value:,.0f}{unit}" if value >= 100 else f"{value:,.1f}{unit}"


def ratio(a, b):
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) or not b:
        return "n/a"
    return f"{a / b:.2f}x"


def paired(value):
    """A ratio already taken (the median of paired runs' ratios)."""
    return f"{value:.2f}x" if isinstance(value, (int, float)) else "n/a"


def print_table(title, rows, header=("Row", "ours", "reference", "ours/ref", "note")):
    """rows: (name, ours, reference, ratio, note) unless ``header`` names other columns; widths fitted to the cells."""
    cells = [header] + [tuple(str(cell) for cell in row) for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}\n")
    for index, row in enumerate(cells):
        print("| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths)) + " |")
        if index == 0:
            print("|" + "|".join("-" * (width + 2) for width in widths) + "|")
    sys.stdout.flush()


def migrated_database(directory):
    """A migrated SQLite file in ``directory``: the environment of a server on it."""
    Path(directory).mkdir(parents=True, exist_ok=True)
    return migrated(f"sqlite:///{Path(directory) / 'bench.sqlite3'}")


def migrated(database_url, cwd=BASE_DIR):
    """Migrate the database at ``database_url`` (with the code in ``cwd``): the environment of a
    server on it. Each server on it starts empty: what the one before held is closed at its
    stop, not taken up by the next (GYMAPI_RESUME=0; bench/resume.py measures restarts, and a
    stepping instance costs the same either way)."""
    env = {**os.environ, "DATABASE_URL": database_url}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=cwd, env=env, check=True)
    return {"DATABASE_URL": database_url, "DEBUG": "0", "LOG_LEVEL": "WARNING", "GYMAPI_RESUME": "0"}


def log(message):
    print(f"[bench] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def postgres_databases():
    """Two throwaway PostgreSQL databases, migrated, for the recording row on PostgreSQL: their
    server environments (on, off), or None when no PostgreSQL answers at BENCH_POSTGRES_URL
    (or BENCH_POSTGRES=0). Dropped afterwards."""
    if os.getenv("BENCH_POSTGRES", "1") == "0":
        yield None
        return
    import psycopg

    server_url = POSTGRES_URL.rpartition("/")[0]
    try:
        admin = psycopg.connect(f"{server_url}/postgres", autocommit=True, connect_timeout=3)
    except psycopg.Error as error:
        log(f"no PostgreSQL at {server_url} ({error}): its recording rows print n/a")
        yield None
        return
    names = [f"gymapi_bench_{uuid.uuid4().hex[:8]}_{side}" for side in ("on", "off")]
    with admin:
        try:
            envs = []
            for name in names:
                admin.execute(f'create database "{name}"')
                envs.append(migrated(f"{server_url}/{name}"))
            yield envs[0], {**envs[1], "GYMAPI_RECORD": "0"}
        finally:
            for name in names:
                admin.execute(f'drop database if exists "{name}" with (force)')


def recording_on_and_off(round_number, on_env, off_env, results, key="rec", where="SQLite", what="recording on and off"):
    """Target 5: ours with recording on (the default) and off (GYMAPI_RECORD=0), both
    running at once, each on a database of its own, measured in turns on, off, off, on,
    off, on, on, off, twice (the other way round in even rounds): each on run has an off
    run next to it in time, and the ratio is the median of those pairs. The same for
    recording with actions (the default) and without (GYMAPI_RECORD_ACTIONS=0)."""
    log(f"round {round_number}/{ROUNDS}: ours with {what} on {where}, in turns")
    with Server("ours-record", lambda port: ours_command("production", port), on_env) as on, \
            Server("ours-norecord", lambda port: ours_command("production", port), off_env) as off:
        # Four times the pairs of the other rows, each run half as long, in the same time: the
        # difference to find is a tenth, and two runs of one server a minute apart differ as much.
        turns = (on, off, off, on, off, on, on, off) if round_number % 2 else (off, on, on, off, on, off, off, on)
        measured = {on: {"one": [], "wrk": []}, off: {"one": [], "wrk": []}}
        for server in turns * 2:
            measured[server]["one"].append(rest_step_rate(server, SECONDS / 2)[0])
            measured[server]["wrk"].append(wrk_step_rate(server, SECONDS / 2))
    for row in ("one", "wrk"):
        results[f"{key}_{row}_on"] += measured[on][row]
        results[f"{key}_{row}_off"] += measured[off][row]
        # The pairs: the first on with the first off, the second with the second...
        results[f"{key}_{row}_ratio"] += [a / b for a, b in zip(measured[on][row], measured[off][row])]


def side_by_side(ours, reference, results, pong, even):
    """The rows that compare ours with the reference, both servers running, measured in
    turns so that each of ours has a reference run next to it in time. A row compared with
    the reference's one-client REST rate is taken between two of those, and its ratio is
    to their mean; wrk and Pong run in the order reference, ours, ours, reference (reversed
    in even rounds); msgpack Pong is paired with the JSON run before it."""
    one_ref = [rest_step_rate(reference, SECONDS)[0]]

    def between_reference_runs(key, value):
        one_ref.append(rest_step_rate(reference, SECONDS)[0])
        results[key].append(value)
        if isinstance(value, (int, float)):
            results[f"{key}_ratio"].append(value / statistics.mean(one_ref[-2:]))

    between_reference_runs("one_ours", rest_step_rate(ours, SECONDS)[0])
    between_reference_runs("ws_ours", optional(ws_step_rate, ours, SECONDS))
    between_reference_runs("ws_websockets", optional(ws_step_rate, ours, SECONDS, client="websockets"))
    between_reference_runs("ws_pipe", optional(ws_pipelined_rate, ours, SECONDS))
    between_reference_runs("vec_ours", optional(vector_step_rate, ours, SECONDS))
    results["one_ref"] += one_ref

    turns = (ours, reference, reference, ours) if even else (reference, ours, ours, reference)
    wrk = {ours: [], reference: []}
    for server in turns:
        wrk[server].append(wrk_step_rate(server, SECONDS))
    results["wrk_ours"] += wrk[ours]
    results["wrk_ref"] += wrk[reference]
    results["wrk_ours_ratio"] += [a / b for a, b in zip(wrk[ours], wrk[reference])]

    if pong:
        for server in turns[:2]:  # Pong is slow to encode as JSON: one pair a round
            rate, size = pong_step_rate(server, SECONDS)
            side = "ours" if server is ours else "ref"
            results[f"pong_{side}"].append(rate)
            results[f"pong_bytes_{side}"].append(size)
        results["pong_ours_ratio"].append(results["pong_ours"][-1] / results["pong_ref"][-1])
        binary = optional(pong_step_rate, ours, SECONDS, binary=True)
        results["pong_bin"].append(binary if binary in (None, FAILED) else binary[0])
        results["pong_bin_bytes"].append(binary if binary in (None, FAILED) else binary[1])
        if binary not in (None, FAILED):
            results["pong_bin_ratio"].append(binary[0] / results["pong_ours"][-1])


def run_main(directory):
    with postgres_databases() as postgres:
        run_rows(directory, postgres)


def run_rows(directory, postgres):
    ours_env = migrated_database(directory)
    # Two more databases: the servers of the recording row run at once.
    on_env = migrated_database(Path(directory) / "recording-on")
    off_env = {**migrated_database(Path(directory) / "recording-off"), "GYMAPI_RECORD": "0"}
    # And two for recording with actions (the default) and without.
    actions_env = migrated_database(Path(directory) / "actions-on")
    no_actions_env = {**migrated_database(Path(directory) / "actions-off"), "GYMAPI_RECORD_ACTIONS": "0"}
    results = defaultdict(list)  # row -> its runs; a row never measured prints n/a
    pong = os.getenv("BENCH_PONG", "1") != "0"
    for round_number in range(1, ROUNDS + 1):
        log(f"round {round_number}/{ROUNDS}: in-process")
        results["inprocess"].append(inprocess_rate(SECONDS))

        log(f"round {round_number}/{ROUNDS}: ours and the reference, in turns")
        with Server("ours", lambda port: ours_command("production", port), ours_env) as ours, \
                Server("reference", reference_command) as reference:
            side_by_side(ours, reference, results, pong, even=round_number % 2 == 0)

        recording_on_and_off(round_number, on_env, off_env, results)
        recording_on_and_off(round_number, actions_env, no_actions_env, results, key="act",
                             what="recording with actions and without")
        if postgres is not None:
            recording_on_and_off(round_number, *postgres, results, key="rec_pg", where="PostgreSQL")

        # Memory on fresh servers: after the rows above, freed memory would hide new allocations.
        log(f"round {round_number}/{ROUNDS}: memory, ours then reference")
        # Room for the idle instances and the warm-up one beside GYMAPI_MAX_INSTANCES' default.
        roomy = {**ours_env, "GYMAPI_MAX_INSTANCES": str(IDLE_INSTANCES + 10)}
        with Server("ours", lambda port: ours_command("production", port), roomy) as server:
            results["mem_ours"].append(idle_memory(server, IDLE_INSTANCES))
        with Server("reference", reference_command) as server:
            results["mem_ref"].append(idle_memory(server, IDLE_INSTANCES))

    m = defaultdict(lambda: None, {key: median(values) for key, values in results.items()})
    rows = [
        ("In-process Gymnasium steps/s (ceiling)", fmt(m["inprocess"]), fmt(m["inprocess"]), "-",
         "gym.make CartPole in the bench process, no server"),
        ("REST step, 1 keep-alive client, steps/s", fmt(m["one_ours"]), fmt(m["one_ref"]),
         paired(m["one_ours_ratio"]), "stdlib http.client, both servers; target 1: >= 1.0x"),
        (f"REST step, wrk {WRK_CONNECTIONS} conns / {WRK_CONNECTIONS} instances, steps/s", fmt(m["wrk_ours"]),
         fmt(m["wrk_ref"]), paired(m["wrk_ours_ratio"]),
         "bench/wrk_step.lua, resets on termination; target 1: >= 1.0x"),
        ("WebSocket step, 1 client, steps/s", fmt(m["ws_ours"]), fmt(m["one_ref"]), paired(m["ws_ours_ratio"]),
         "gymapi_client.StepSocket; ref = its 1-client REST; target 2: >= 3x"),
        ("WebSocket step, 1 websockets sync client, steps/s", fmt(m["ws_websockets"]), fmt(m["one_ref"]),
         paired(m["ws_websockets_ratio"]), "the same with websockets' sync client (a reader thread)"),
        (f"WebSocket step, 1 client, {WRK_CONNECTIONS} instances pipelined, steps/s", fmt(m["ws_pipe"]),
         fmt(m["one_ref"]), paired(m["ws_pipe_ratio"]),
         "ws/step/: a step for each instance, then the answers; ref = its 1-client REST"),
        ("Batched step, 64 CartPoles, env-steps/s", fmt(m["vec_ours"]), fmt(m["one_ref"]),
         paired(m["vec_ours_ratio"]), "POST /v1/vector_envs/; ref = its 1-client REST; target 3: >= 50x"),
    ]
    if pong:
        rows += [
            ("ALE/Pong-v5 step, JSON, steps/s", fmt(m["pong_ours"]), fmt(m["pong_ref"]),
             paired(m["pong_ours_ratio"]), "1 client"),
            ("ALE/Pong-v5 step, JSON, body bytes", fmt(m["pong_bytes_ours"]), fmt(m["pong_bytes_ref"]),
             ratio(m["pong_bytes_ours"], m["pong_bytes_ref"]), ""),
            ("ALE/Pong-v5 step, msgpack vs JSON, steps/s", fmt(m["pong_bin"]), fmt(m["pong_ours"]),
             paired(m["pong_bin_ratio"]), "ours only: msgpack / ours JSON; target 4: >= 3x"),
            ("ALE/Pong-v5 step, msgpack vs JSON, body bytes", fmt(m["pong_bin_bytes"]), fmt(m["pong_bytes_ours"]),
             ratio(m["pong_bin_bytes"], m["pong_bytes_ours"]), "ours only: msgpack / ours JSON; target 4: <= 0.25x"),
        ]
    rows += [
        ("Recording on vs off, 1 client, steps/s", fmt(m["rec_one_on"]), fmt(m["rec_one_off"]),
         paired(m["rec_one_ratio"]), "ours only: default / GYMAPI_RECORD=0, median of paired runs; target 5: >= 0.90x"),
        (f"Recording on vs off, wrk {WRK_CONNECTIONS} conns, steps/s", fmt(m["rec_wrk_on"]), fmt(m["rec_wrk_off"]),
         paired(m["rec_wrk_ratio"]), "ours only: default / GYMAPI_RECORD=0, median of paired runs; target 5: >= 0.90x"),
    ]
    rows += actions_rows(m)
    no_postgres = None if postgres is not None else "n/a (no PostgreSQL)"
    rows += [
        ("Recording on vs off, PostgreSQL, 1 client, steps/s", no_postgres or fmt(m["rec_pg_one_on"]),
         no_postgres or fmt(m["rec_pg_one_off"]), paired(m["rec_pg_one_ratio"]),
         "the same on PostgreSQL (BENCH_POSTGRES_URL), its server on this machine; target 5: >= 0.90x"),
        (f"Recording on vs off, PostgreSQL, wrk {WRK_CONNECTIONS} conns, steps/s", no_postgres or fmt(m["rec_pg_wrk_on"]),
         no_postgres or fmt(m["rec_pg_wrk_off"]), paired(m["rec_pg_wrk_ratio"]),
         "the same on PostgreSQL (BENCH_POSTGRES_URL), its server on this machine; target 5: >= 0.90x"),
        ("Memory: RSS added by 1,000 idle CartPoles, MB", fmt(m["mem_ours"]), fmt(m["mem_ref"]),
         ratio(m["mem_ours"], m["mem_ref"]),
         f"created and reset; measured with {IDLE_INSTANCES}, scaled; target 6: <= 200 MB"),
    ]
    print_table(
        f"gymapi vs FastAPI reference: medians of {ROUNDS} round(s); ratios are medians of runs paired in "
        f"time (servers running side by side, measured in turns), {SECONDS:g} s per timed row{', QUICK' if QUICK else ''}",
        rows,
    )


def actions_rows(m):
    """The rows of recording with actions against without (medians ``m``)."""
    note = "ours only: default / GYMAPI_RECORD_ACTIONS=0, median of paired runs; target: >= 0.95x"
    return [
        ("Recording with actions vs without, 1 client, steps/s", fmt(m["act_one_on"]), fmt(m["act_one_off"]),
         paired(m["act_one_ratio"]), note),
        (f"Recording with actions vs without, wrk {WRK_CONNECTIONS} conns, steps/s", fmt(m["act_wrk_on"]),
         fmt(m["act_wrk_off"]), paired(m["act_wrk_ratio"]), note),
    ]


def run_actions(directory):
    """Only the rows of recording with actions against without, ROUNDS rounds (``--actions``)."""
    actions_env = migrated_database(Path(directory) / "actions-on")
    no_actions_env = {**migrated_database(Path(directory) / "actions-off"), "GYMAPI_RECORD_ACTIONS": "0"}
    results = defaultdict(list)
    for round_number in range(1, ROUNDS + 1):
        recording_on_and_off(round_number, actions_env, no_actions_env, results, key="act",
                             what="recording with actions and without")
    m = defaultdict(lambda: None, {key: median(values) for key, values in results.items()})
    print_table(f"Recording with actions vs without: medians of {ROUNDS} round(s), {SECONDS:g} s per timed row", actions_rows(m))


def run_servers(directory, names):
    """Ours under each candidate ASGI server, alternating with the reference: the REST rows."""
    ours_env = migrated_database(directory)
    one = {name: [] for name in names + ["reference"]}
    many = {name: [] for name in names + ["reference"]}
    for round_number in range(1, ROUNDS + 1):
        for name in names + ["reference"]:
            log(f"round {round_number}/{ROUNDS}: {name}")
            if name == "reference":
                server = Server(name, reference_command)
            else:
                server = Server(name, lambda port, name=name: ours_command(name, port), ours_env)
            with server:
                one[name].append(rest_step_rate(server, SECONDS)[0])
                many[name].append(wrk_step_rate(server, SECONDS))
    ref_one, ref_many = median(one["reference"]), median(many["reference"])
    rows = []
    for name in names:
        rows.append((f"{name}: REST step, 1 client, steps/s", fmt(median(one[name])), fmt(ref_one),
                     ratio(median(one[name]), ref_one), ""))
        rows.append((f"{name}: REST step, wrk {WRK_CONNECTIONS} conns, steps/s", fmt(median(many[name])), fmt(ref_many),
                     ratio(median(many[name]), ref_many), ""))
    print_table(f"ASGI servers for gymapi: medians of {ROUNDS} round(s), alternating, {SECONDS:g} s per timed row", rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", help="comma-separated: production, daphne, uvicorn, granian, hypercorn")
    parser.add_argument("--actions", action="store_true", help="only the rows of recording with actions vs without")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: `make bench` installs Debian's wrk (apt-get install -y wrk).")
    with tempfile.TemporaryDirectory(prefix="gymapi-bench-") as directory:
        if args.servers:
            run_servers(directory, [name.strip() for name in args.servers.split(",") if name.strip()])
        elif args.actions:
            run_actions(directory)
        else:
            run_main(directory)


if __name__ == "__main__":
    main()
