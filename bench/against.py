"""This checkout against an earlier commit, side by side: ``python -m bench.against <commit>``.

Did a change make the server slower, or did the machine? A table of another day cannot say:
on these shared machines the speed of the same code drifts by a third within a minute, and
runs of a few seconds taken in turns still differ by 10% when nothing changed. So both
servers run at once, each on a SQLite database of its own (the commit's code from a git
worktree in a temporary folder, both with this checkout's virtualenv), and each row drives
them in alternating slices: a client of each keeps its connection and instances, and runs
for ``--slice`` seconds (100 ms) on one, then the other, for ``--seconds`` in all. What the
machine does meanwhile falls on both alike. wrk keeps the server busy, so its row runs both
at once on one core instead (``wrk_on_one_core``: the ratio of their rates is the inverse
of their CPU costs per request); memory is ``make bench``'s row, fresh servers in turns.

Each rate is the total of its slices; the ratio is this checkout's over the commit's (the
median of the slice pairs' ratios is printed beside it). ``BENCH_QUICK=1`` is a smoke run.
"""

import argparse
import contextlib
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import run as bench

QUICK = bench.QUICK


class Client:
    """A row's client, kept between slices: ``step()`` does one exchange and returns the
    steps it counts; ``play`` repeats it for a slice."""

    unit = "steps/s"

    def play(self, seconds):
        steps, deadline = 0, time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            steps += self.step()
        return steps


class RestClient(Client):
    """One keep-alive client stepping one CartPole (the REST 1-client row)."""

    def __init__(self, server):
        self.conn = server.connect()
        self.base = f"/v1/envs/{bench.create(self.conn)}/"
        bench.request(self.conn, "POST", self.base + "reset/", {})
        self.bodies = (json.dumps({"action": 0}), json.dumps({"action": 1}))
        self.action = 0

    def step(self):
        self.action ^= 1
        _, body = bench.request(self.conn, "POST", self.base + "step/", self.bodies[self.action])
        if b'"done":true' in body:
            bench.request(self.conn, "POST", self.base + "reset/", {})
        return 1

    def close(self):
        self.conn.close()


class SocketClient(Client):
    """One step socket in lock-step on one CartPole (the WebSocket 1-client row)."""

    MESSAGES = ('{"op":"step","action":0}', '{"op":"step","action":1}')

    def __init__(self, server):
        from gymapi_client import StepSocket

        conn = server.connect()
        instance_id = bench.create(conn)
        conn.close()
        self.socket = StepSocket(f"http://{bench.HOST}:{server.port}", f"/ws/envs/{instance_id}/step/", timeout=30)
        self.socket.send_text('{"op":"reset"}')
        self.socket.receive_text()
        self.action = 0

    def step(self):
        self.action ^= 1
        self.socket.send_text(self.MESSAGES[self.action])
        if '"done":true' in self.socket.receive_text():
            self.socket.send_text('{"op":"reset"}')
            self.socket.receive_text()
        return 1

    def close(self):
        self.socket.close()


class PipelinedClient(Client):
    """One ws/step/ socket driving 8 CartPoles: a step for each, then the 8 answers."""

    def __init__(self, server, instances=8):
        from websockets.sync.client import connect

        conn = server.connect()
        self.ids = [bench.create(conn) for _ in range(instances)]
        conn.close()
        self.socket = connect(f"ws://{bench.HOST}:{server.port}/ws/step/", open_timeout=30).__enter__()
        self.exchange([{"op": "reset", "instance_id": instance_id, "id": instance_id} for instance_id in self.ids])
        self.action = 0

    def exchange(self, messages):
        for message in messages:
            self.socket.send(json.dumps(message))
        return [json.loads(self.socket.recv(timeout=30)) for _ in messages]

    def step(self):
        self.action ^= 1
        replies = self.exchange([{"op": "step", "instance_id": i, "action": self.action, "id": i} for i in self.ids])
        over = [reply["id"] for reply in replies if reply["done"]]
        if over:
            self.exchange([{"op": "reset", "instance_id": i, "id": i} for i in over])
        return len(replies)

    def close(self):
        self.socket.close()


class BatchedClient(Client):
    """One client stepping a vector instance of 64 CartPoles (counted in env-steps)."""

    unit = "env-steps/s"

    def __init__(self, server, num_envs=64):
        self.conn = server.connect()
        status, body = bench.request(self.conn, "POST", "/v1/vector_envs/", {"env_id": "CartPole-v1", "num_envs": num_envs})
        if status not in (200, 201):
            raise RuntimeError(f"vector create: {status} {body[:300]!r}")
        self.base = f"/v1/vector_envs/{json.loads(body)['instance_id']}/"
        bench.request(self.conn, "POST", self.base + "reset/", {})
        self.num_envs, self.action = num_envs, 0

    def step(self):
        self.action ^= 1
        bench.request(self.conn, "POST", self.base + "step/", {"action": [self.action] * self.num_envs})
        return self.num_envs

    def close(self):
        self.conn.close()


ROWS = (
    ("REST step, 1 keep-alive client", RestClient),
    ("WebSocket step, 1 client", SocketClient),
    ("WebSocket step, 8 instances pipelined", PipelinedClient),
    ("Batched step, 64 CartPoles", BatchedClient),
)


def sliced(servers, client_class, seconds, slice_seconds):
    """``(rates, median slice ratio)``: each server's rate over alternating slices of one client each."""
    clients = [client_class(server) for server in servers]
    try:
        for client in clients:  # each instance's first calls, measured in threads, out of the count
            client.play(min(1.0, seconds / 10))
        totals, ratios = [[0, 0.0] for _ in clients], []
        ended, turn = time.monotonic() + seconds, 0
        while time.monotonic() < ended:
            order = (0, 1) if turn % 2 == 0 else (1, 0)
            turn += 1
            rates = [0.0, 0.0]
            for index in order:
                started = time.perf_counter()
                steps = clients[index].play(slice_seconds)
                elapsed = time.perf_counter() - started
                totals[index][0] += steps
                totals[index][1] += elapsed
                rates[index] = steps / elapsed
            ratios.append(rates[0] / rates[1])
        return [steps / elapsed for steps, elapsed in totals], statistics.median(ratios)
    finally:
        for client in clients:
            client.close()


def wrk_on_one_core(codes, envs, rounds, runs, seconds, connections=4):
    """``(rates, the rounds' ratios)`` of wrk on both servers at once, the two
    servers pinned to one core and their wrk processes to another; None with fewer than two cores.

    Sharing a core, the servers get equal CPU time at the same moments, so their rates are the
    inverse of their CPU costs per request, whatever the rest of the machine does (wrk runs of a
    second in turns, each server with a core of its own, differ by 5-10% with nothing changed).
    Each round is a fresh pair, started in alternating order: a process's own speed varies by a
    few percent with its memory layout and hash seed, which the rounds average out."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2 or not shutil.which("taskset"):
        return None
    server_core, client_core = str(cores[-1]), str(cores[0])
    totals, ratios = [[0, 0.0], [0, 0.0]], []
    for turn in range(rounds):
        order = (0, 1) if turn % 2 == 0 else (1, 0)
        with contextlib.ExitStack() as started:
            servers = [None, None]
            for index in order:
                (name, code), env = codes[index], envs[index]
                command = lambda port: ["taskset", "-c", server_core, *bench.ours_command("production", port)]  # noqa: E731
                servers[index] = started.enter_context(bench.Server(name, command, env, cwd=code))
            ids = []
            for server in servers:
                conn = server.connect()
                ids.append([bench.create(conn) for _ in range(connections)])
                conn.close()
            pair_ratios = []
            for run in range(runs + 1):  # the first run is a warm-up: each instance's first calls go to threads
                processes = [None, None]
                for index in order if run % 2 == 0 else order[::-1]:
                    command, env = bench.wrk_command(servers[index], ids[index], seconds)
                    processes[index] = subprocess.Popen(["taskset", "-c", client_core, *command], env=env,
                                                        stdout=subprocess.PIPE, text=True)
                counts = [sum(bench.wrk_counts(process.communicate()[0], server.name))
                          for process, server in zip(processes, servers)]
                if run:
                    pair_ratios.append(counts[0] / counts[1])
                    for index, count in enumerate(counts):
                        totals[index][0] += count
                        totals[index][1] += seconds
            ratios.append(statistics.median(pair_ratios))
    return [steps / elapsed for steps, elapsed in totals], ratios


@contextlib.contextmanager
def worktree(commit):
    """A checkout of ``commit`` in a temporary folder, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="gymapi-against-")) / "code"
    subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(folder), commit], cwd=bench.BASE_DIR, check=True)
    try:
        yield folder
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(folder)], cwd=bench.BASE_DIR, check=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("commit", help="the commit to measure this checkout against (a hash, tag or branch)")
    parser.add_argument("--seconds", type=float, default=2.0 if QUICK else 30.0, help="per row, in alternating slices")
    parser.add_argument("--slice", type=float, default=0.1, help="seconds on one server before the other's turn")
    parser.add_argument("--wrk-rounds", type=int, default=2 if QUICK else 10, help="rounds of fresh servers for wrk")
    parser.add_argument("--memory-rounds", type=int, default=1 if QUICK else 3)
    options = parser.parse_args()
    label = subprocess.run(["git", "rev-parse", "--short", options.commit], cwd=bench.BASE_DIR, check=True,
                           capture_output=True, text=True).stdout.strip()
    rows = []
    with worktree(options.commit) as earlier, tempfile.TemporaryDirectory() as data:
        codes = (("this checkout", bench.BASE_DIR), (label, earlier))
        envs = [bench.migrated(f"sqlite:///{Path(data) / f'{n}.sqlite3'}", cwd=code) for n, (_, code) in enumerate(codes)]
        with contextlib.ExitStack() as started:
            servers = [
                started.enter_context(bench.Server(name, lambda port: bench.ours_command("production", port), env, cwd=code))
                for (name, code), env in zip(codes, envs)
            ]
            for title, client_class in ROWS:
                bench.log(f"{title}: {options.seconds:g} s in slices of {options.slice:g} s")
                rates, median = sliced(servers, client_class, options.seconds, options.slice)
                rows.append((f"{title}, {client_class.unit}", rates, rates[0] / rates[1], f"median of pairs {median:.2f}x"))
        if shutil.which("wrk"):
            bench.log(f"wrk: {options.wrk_rounds} rounds of fresh servers sharing one core")
            measured = wrk_on_one_core(codes, envs, options.wrk_rounds, 1 if QUICK else 2, 1 if QUICK else 3)
            if measured is None:
                bench.log("wrk: skipped, it needs two cores and taskset")
            else:
                rates, ratios = measured
                mean = math.exp(statistics.mean(math.log(ratio) for ratio in ratios))
                rows.append(("REST step, wrk on both at once sharing one core, steps/s", rates, mean,
                             f"geometric mean of {len(ratios)} rounds, {min(ratios):.2f}x to {max(ratios):.2f}x"))
        memory = ([], [])
        count = bench.IDLE_INSTANCES
        for _ in range(options.memory_rounds):
            for index, ((name, code), env) in enumerate(zip(codes, envs)):
                roomy = {**env, "GYMAPI_MAX_INSTANCES": str(count + 10)}
                with bench.Server(name, lambda port: bench.ours_command("production", port), roomy, cwd=code) as server:
                    memory[index].append(bench.idle_memory(server, count))
        ours, theirs = (statistics.median(values) for values in memory)
        rows.append(("Memory: RSS added by 1,000 idle CartPoles, MB", [ours, theirs], ours / theirs, ""))
    table = []
    for title, (ours, theirs), ratio, note in rows:
        table.append([title, bench.fmt(ours), bench.fmt(theirs), f"{ratio:.2f}x", note])
    bench.print_table(f"This checkout against {label}, side by side", table,
                      header=("Row", "this checkout", label, "ratio", "note"))


if __name__ == "__main__":
    sys.exit(main())
