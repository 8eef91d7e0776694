"""The Ray runtime's rows of `make bench`: the same server on the local runtime and on Ray, side by side.

    python -m bench.ray_bench        # this table alone; `make bench` prints it after bench.run's

A Ray cluster of this machine (started here, stopped at the end) and two fronts on one
throwaway PostgreSQL database of BENCH_POSTGRES_URL: one with ``GYMAPI_RUNTIME=local``,
one with ``GYMAPI_RUNTIME=ray``. Measured in turns (local, Ray, Ray, local...), each
ratio the median of the ratios of runs paired in time:

- the actor hop: one client stepping a CartPole, steps/s and microseconds a step;
- work that costs CPU: 8 clients each stepping its own ``gymapi-bench/Busy-v0``, an
  environment whose step spins for a known time (bench/busy_env.py), at several costs a
  step, and where Ray starts to win (the crossover, interpolated);
- the batched vector route: 64 CartPoles a call, env-steps/s.

Prints "n/a" rows when no PostgreSQL answers.
"""

import contextlib
import http.client
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid

from bench.run import HOST, POSTGRES_URL, QUICK, Server, log, migrated, ours_command, print_table

ROUNDS = int(os.getenv("BENCH_RAY_ROUNDS", "1" if QUICK else "3"))
SECONDS = float(os.getenv("BENCH_RAY_SECONDS", "0.5" if QUICK else "4"))
CLIENTS = 8
# Seconds a Busy-v0 step costs, for the crossover; the rows quote 1 ms and 5 ms.
COSTS = (0.001, 0.005) if QUICK else (0.0002, 0.0005, 0.001, 0.002, 0.005)
JSON_HEADERS = {"Content-Type": "application/json"}


def call(connection, method, path, body=None):
    connection.request(method, path, body=None if body is None else json.dumps(body), headers=JSON_HEADERS)
    response = connection.getresponse()
    content = response.read()
    if response.status >= 400:
        raise RuntimeError(f"{method} {path}: {response.status} {content[:300]!r}")
    return json.loads(content) if content else None


def stepping(port, env_id, seconds, clients=1, kwargs=None, vector=None):
    """Steps a second of ``clients`` clients, each on an instance of its own (env-steps for a vector)."""
    counts = [0] * clients
    barrier = threading.Barrier(clients + 1)

    def client(index):
        try:
            drive(index)
        except BaseException as error:
            errors.append(error)
            barrier.abort()  # the others, and the timer, stop waiting for this one

    def drive(index):
        connection = http.client.HTTPConnection(HOST, port, timeout=120)
        base = "/v1/vector_envs/" if vector else "/v1/envs/"
        body = {"env_id": env_id, "seed": index, "kwargs": kwargs or {}}
        if vector:
            body["num_envs"] = vector
        instance_id = call(connection, "POST", base, body)["instance_id"]
        call(connection, "POST", f"{base}{instance_id}/reset/", {})
        action = [0] * vector if vector else 0
        for _ in range(3):  # measured in a thread, the first calls settle where they run
            call(connection, "POST", f"{base}{instance_id}/step/", {"action": action})
        barrier.wait()
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            body = call(connection, "POST", f"{base}{instance_id}/step/", {"action": action})
            counts[index] += vector or 1
            if not vector and body["done"]:
                call(connection, "POST", f"{base}{instance_id}/reset/", {})
        call(connection, "DELETE", f"{base}{instance_id}/")
        connection.close()

    errors = []
    threads = [threading.Thread(target=client, args=(index,)) for index in range(clients)]
    for thread in threads:
        thread.start()
    try:
        barrier.wait()
    except threading.BrokenBarrierError:
        pass
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return sum(counts) / (time.perf_counter() - started)


def paired(measure, local, ray, results, key):
    """``measure(server)`` on both, in turns (local, ray, ray, local), into ``results``."""
    for order in ((local, ray), (ray, local)):
        pair = {}
        for server in order:
            pair[server.name] = measure(server)
        results[key].append(pair)


@contextlib.contextmanager
def cluster():
    """A Ray cluster of this machine, its address; stopped afterwards."""
    import ray

    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    # Logical CPUs, as many as the busiest row's actors reserve (GYMAPI_RAY_NUM_CPUS, 0.25 each):
    # they share this machine's cores, as a front's instances share its one process.
    ray.init(num_cpus=16, include_dashboard=False, namespace="gymapi", log_to_driver=False, _temp_dir=temp)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)


@contextlib.contextmanager
def database():
    import psycopg

    server_url = POSTGRES_URL.rpartition("/")[0]
    try:
        admin = psycopg.connect(f"{server_url}/postgres", autocommit=True, connect_timeout=3)
    except psycopg.Error as error:
        log(f"no PostgreSQL at {server_url} ({error}): the Ray rows print n/a")
        yield None
        return
    name = f"gymapi_ray_bench_{uuid.uuid4().hex[:8]}"
    with admin:
        admin.execute(f'create database "{name}"')
        try:
            yield migrated(f"{server_url}/{name}")
        finally:
            admin.execute(f'drop database if exists "{name}" with (force)')


def rows(results):
    def med(key, name):
        values = [pair[name] for pair in results[key]]
        return statistics.median(values) if values else None

    def ratio(key):
        values = [pair["ray"] / pair["local"] for pair in results[key]]
        return statistics.median(values) if values else None

    def line(label, key, note, unit=""):
        local, ray, r = med(key, "local"), med(key, "ray"), ratio(key)
        if local is None:
            return [label, "n/a", "n/a", "n/a", note]
        return [label, f"{ray:,.0f}{unit}", f"{local:,.0f}{unit}", f"{r:.2f}x", note]

    table = [line("CartPole step, 1 client, steps/s", "hop", "one REST client; the actor hop")]
    if results["hop"]:
        hop = [1e6 / pair["ray"] - 1e6 / pair["local"] for pair in results["hop"]]
        table.append(["  the hop, µs a step (Ray minus local)", f"{statistics.median(hop):,.0f}", "", "", "median of pairs"])
    for cost in COSTS:
        table.append(line(f"Busy-v0 at {cost * 1000:g} ms a step, {CLIENTS} clients, steps/s", f"busy{cost}",
                          f"{CLIENTS} instances, one client each"))
    table.append(line("Vector route, 64 CartPoles a call, env-steps/s", "vector", "one client"))
    crossover = find_crossover(results)
    table.append(["Crossover: Busy-v0 step cost where Ray overtakes local", crossover, "", "", "interpolated from the ratios"])
    return table


def find_crossover(results):
    points = []
    for cost in COSTS:
        values = [pair["ray"] / pair["local"] for pair in results[f"busy{cost}"]]
        if values:
            points.append((cost, statistics.median(values)))
    for (low, below), (high, above) in zip(points, points[1:]):
        if below < 1.0 <= above:
            return f"{(low + (1.0 - below) * (high - low) / (above - below)) * 1000:.2f} ms"
    if points and points[0][1] >= 1.0:
        return f"below {points[0][0] * 1000:g} ms"
    return "n/a" if not points else f"above {points[-1][0] * 1000:g} ms"


def main():
    results = {key: [] for key in ("hop", "vector", *(f"busy{cost}" for cost in COSTS))}
    with database() as env:
        if env is None:
            print_table("The Ray runtime against the local one: n/a (no PostgreSQL)", rows(results),
                        header=("Row", "Ray", "local", "Ray/local", "note"))
            return
        env = {**env, "GYMAPI_ENV_PACKAGES": "bench.busy_env", "GYMAPI_MAX_INSTANCES": "0", "LOG_LEVEL": "WARNING"}
        with cluster() as address:
            local = Server("local", lambda port: ours_command("production", port), {**env, "GYMAPI_RUNTIME": "local"})
            ray = Server("ray", lambda port: ours_command("production", port),
                         {**env, "GYMAPI_RUNTIME": "ray", "RAY_ADDRESS": address, "RAY_AUTH_MODE": "token"})
            with local, ray:
                for round_number in range(1, ROUNDS + 1):
                    log(f"Ray round {round_number}/{ROUNDS}: the hop, the vector route, CPU-bound steps")
                    paired(lambda server: stepping(server.port, "CartPole-v1", SECONDS), local, ray, results, "hop")
                    paired(lambda server: stepping(server.port, "CartPole-v1", SECONDS, vector=64), local, ray, results,
                           "vector")
                    for cost in COSTS:
                        paired(lambda server, cost=cost: stepping(server.port, "gymapi-bench/Busy-v0", SECONDS, CLIENTS,
                                                                  {"step_seconds": cost}),
                               local, ray, results, f"busy{cost}")
    print_table(
        f"The Ray runtime against the local one ({os.cpu_count()} cores, one front each): medians of {ROUNDS} "
        f"round(s), ratios are medians of pairs (Ray / local)",
        rows(results),
        header=("Row", "Ray", "local", "Ray/local", "note"),
    )


if __name__ == "__main__":
    sys.exit(main())
