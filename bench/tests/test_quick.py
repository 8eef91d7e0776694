"""`BENCH_QUICK=1 python -m bench.run`: the benchmark runs end to end and prints its table.

A smoke test with tiny durations (about 30 s): it starts both servers, drives
every row once and checks the table, not the numbers.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# It measures on databases of its own (or none), whatever DATABASE_URL says: the PostgreSQL run of make test would only repeat it.
pytestmark = pytest.mark.database_free

BASE_DIR = Path(__file__).resolve().parent.parent.parent
ROWS = [
    "In-process Gymnasium steps/s",
    "REST step, 1 keep-alive client",
    "REST step, wrk 8 conns",
    "WebSocket step, 1 client",
    "Batched step, 64 CartPoles",
    "ALE/Pong-v5 step, JSON, steps/s",
    "ALE/Pong-v5 step, msgpack vs JSON",
    "Recording on vs off, 1 client",
    "Recording on vs off, PostgreSQL, 1 client",  # n/a where no PostgreSQL answers
    "Recording with actions vs without, 1 client",
    "Recording with actions vs without, wrk 8 conns",
    "Memory: RSS added by 1,000 idle CartPoles",
]


def test_it_prints_the_table_in_quick_mode():
    missing = [name for name in ("wrk",) if shutil.which(name) is None]
    try:
        import fastapi  # noqa: F401
    except ImportError:
        missing.append("fastapi (bench/requirements.txt)")
    if missing:
        message = f"the benchmark needs {', '.join(missing)}: `make bench` installs them"
        if os.getenv("CI") == "true":
            pytest.fail(f"{message}; CI needs them.")
        pytest.skip(message)
    env = {**os.environ, "BENCH_QUICK": "1", "BENCH_SECONDS": "0.3", "BENCH_IDLE_INSTANCES": "5"}
    result = subprocess.run(
        [sys.executable, "-m", "bench.run"], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr[-3000:]
    table = result.stdout
    assert "| Row" in table and "ours/ref" in table
    for row in ROWS:
        line = next((line for line in table.splitlines() if row in line), None)
        assert line is not None, f"{row!r} missing from:\n{table}"
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        assert cells[1] and cells[2], line  # a number, or "n/a (not built yet)"
