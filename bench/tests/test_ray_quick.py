"""`BENCH_QUICK=1 python -m bench.ray_bench`: the Ray rows run end to end and print their table.

A smoke test with tiny durations: a Ray cluster, a local and a Ray front on a throwaway
PostgreSQL database, every row driven once; it checks the table, not the numbers.
"""

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from envs.tests.cluster import POSTGRES_URL

BASE_DIR = Path(__file__).resolve().parent.parent.parent
ROWS = [
    "CartPole step, 1 client, steps/s",
    "the hop, µs a step",
    "Busy-v0 at 1 ms a step",
    "Busy-v0 at 5 ms a step",
    "Vector route, 64 CartPoles a call",
    "Crossover",
]

pytestmark = pytest.mark.cluster


def test_it_prints_the_ray_table_in_quick_mode():
    try:
        psycopg.connect(POSTGRES_URL, connect_timeout=3).close()
    except psycopg.Error as error:
        if os.getenv("CI") == "true":
            pytest.fail(f"the Ray rows need PostgreSQL at {POSTGRES_URL}; CI starts it ({error})")
        pytest.skip(f"no PostgreSQL at {POSTGRES_URL}")
    env = {**os.environ, "BENCH_QUICK": "1", "BENCH_RAY_SECONDS": "0.3", "BENCH_POSTGRES_URL": POSTGRES_URL}
    result = subprocess.run(
        [sys.executable, "-m", "bench.ray_bench"], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    table = result.stdout
    assert "Ray/local" in table, table
    for row in ROWS:
        line = next((line for line in table.splitlines() if row in line), None)
        assert line is not None, f"{row!r} missing from:\n{table}"
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        assert cells[1] and cells[1] != "n/a", line
