"""`python -m bench.resume`: what a restart costs with instances to take up (README, Restarts).

For ``GYMAPI_RESUME`` on (the default) and off, in turns, ``RESUME_ROUNDS``
times each: the production server on a fresh SQLite database, ``RESUME_INSTANCES``
CartPoles created, reset with a seed and stepped ``RESUME_STEPS`` times each
(all mid-episode), then SIGTERM, then a second server on the same database.
It prints the seconds the SIGTERM took to end the first (suspending or closing
every instance), the seconds from starting the second until it answers a
request, and how many instances the second serves; with resume on, each one's
next step is checked against an in-process CartPole given the same seed and
actions. Each figure is the median of the rounds.

    python -m bench.resume
    RESUME_INSTANCES=100 RESUME_ROUNDS=1 python -m bench.resume   # a smoke run
"""

import json
import os
import statistics
import tempfile
import time

import gymnasium as gym
from gymapi_client.spaces import encode_any

from bench.run import Server, log, migrated_database, ours_command, request

INSTANCES = int(os.getenv("RESUME_INSTANCES", "1000"))
STEPS = int(os.getenv("RESUME_STEPS", "10"))
ROUNDS = int(os.getenv("RESUME_ROUNDS", "3"))
ACTIONS = (0, 1)  # alternating pushes: a CartPole lasts well past STEPS


def loaded(server):
    """``INSTANCES`` CartPoles on ``server``, each reset with its index as seed and stepped ``STEPS`` times."""
    conn, ids = server.connect(), []
    for index in range(INSTANCES):
        status, body = request(conn, "POST", "/v1/envs/", {"env_id": "CartPole-v1"})
        assert status == 201, body
        instance_id = json.loads(body)["instance_id"]
        assert request(conn, "POST", f"/v1/envs/{instance_id}/reset/", {"seed": index})[0] == 200
        for step in range(STEPS):
            assert request(conn, "POST", f"/v1/envs/{instance_id}/step/", {"action": ACTIONS[step % 2]})[0] == 200
        ids.append(instance_id)
    return ids


def expected_next(index):
    """What the next step of instance ``index`` answers, had nothing restarted."""
    env = gym.make("CartPole-v1")
    env.reset(seed=index)
    for step in range(STEPS):
        env.step(ACTIONS[step % 2])
    observation, reward, *_ = env.step(ACTIONS[STEPS % 2])
    return encode_any(observation), float(reward)


def restart(resume):
    """One round: ``(shutdown seconds, start-up seconds, instances served after)``."""
    with tempfile.TemporaryDirectory() as directory:
        env = migrated_database(directory) | {"GYMAPI_RESUME": "1" if resume else "0", "GYMAPI_MAX_INSTANCES": "0"}
        first = Server("first", lambda port: ours_command("production", port), env).__enter__()
        try:
            ids = loaded(first)
            started = time.monotonic()
            first.process.terminate()
            first.process.wait(timeout=600)
            shutdown = time.monotonic() - started
        finally:
            first.__exit__(None, None, None)
        started = time.monotonic()
        with Server("second", lambda port: ours_command("production", port), env) as second:
            startup = time.monotonic() - started
            conn = second.connect()
            status, body = request(conn, "GET", "/v1/envs/")
            served = len(json.loads(body)) if status == 200 else 0
            if resume:  # a sample of them continues exactly
                for index in range(0, INSTANCES, max(1, INSTANCES // 10)):
                    status, body = request(conn, "POST", f"/v1/envs/{ids[index]}/step/", {"action": ACTIONS[STEPS % 2]})
                    answer = json.loads(body)
                    assert status == 200 and (answer["observation"], answer["reward"]) == expected_next(index), body
        return shutdown, startup, served


def main():
    figures = {True: [], False: []}
    for round_number in range(ROUNDS):
        for resume in (True, False):
            log(f"round {round_number + 1}/{ROUNDS}, GYMAPI_RESUME={int(resume)}: {INSTANCES} CartPoles mid-episode")
            figures[resume].append(restart(resume))
    median = lambda resume, column: statistics.median(run[column] for run in figures[resume])  # noqa: E731
    rows = [
        ("SIGTERM until the server exits, s", 0, "{:.2f}"),
        ("Start until the server answers again, s", 1, "{:.2f}"),
        ("Instances it serves after the restart", 2, "{:.0f}"),
    ]
    print(f"\n{INSTANCES} CartPoles mid-episode ({STEPS} steps each), SQLite, median of {ROUNDS} rounds\n")
    print(f"| {'Row':<42} | {'GYMAPI_RESUME=1':>15} | {'GYMAPI_RESUME=0':>15} |")
    print(f"|{'-' * 44}|{'-' * 17}|{'-' * 17}|")
    for name, column, spelled in rows:
        print(f"| {name:<42} | {spelled.format(median(True, column)):>15} | {spelled.format(median(False, column)):>15} |")
    rebuilt = median(True, 1) - median(False, 1)
    if rebuilt > 0:
        print(f"\nRebuilding cost {rebuilt:.2f} s more than starting empty: {INSTANCES / rebuilt:,.0f} instances/s.")


if __name__ == "__main__":
    main()
