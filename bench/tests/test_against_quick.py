"""`python -m bench.against <commit>` in quick mode: this checkout against itself, side by side.

Every row is measured on both servers and printed with its ratio, and the git worktree of the
commit is removed afterwards.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# It measures on databases of its own, whatever DATABASE_URL says: the PostgreSQL run of make test would only repeat it.
pytestmark = pytest.mark.database_free

BASE_DIR = Path(__file__).resolve().parent.parent.parent
ROWS = (
    "REST step, 1 keep-alive client, steps/s",
    "WebSocket step, 1 client, steps/s",
    "WebSocket step, 8 instances pipelined, steps/s",
    "Batched step, 64 CartPoles, env-steps/s",
    "Memory: RSS added by 1,000 idle CartPoles, MB",
)
# The wrk row pins the two servers to one core and their clients to another (bench/against.py).
WRK_ROW = "REST step, wrk on both at once sharing one core, steps/s"
WITH_WRK = len(os.sched_getaffinity(0)) >= 2 and all(shutil.which(tool) for tool in ("wrk", "taskset"))


def worktrees():
    listed = subprocess.run(["git", "worktree", "list"], cwd=BASE_DIR, capture_output=True, text=True, check=True)
    return listed.stdout.count("\n")


def test_it_prints_every_row_for_both_and_leaves_no_worktree():
    before = worktrees()
    env = {**os.environ, "BENCH_QUICK": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "bench.against", "HEAD", "--seconds", "1"],
        cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    for row in (*ROWS, WRK_ROW) if WITH_WRK else ROWS:
        found = re.search(rf"^\| {re.escape(row)} +\| +[\d,.]+ +\| +[\d,.]+ +\| +(\d+\.\d\d)x \|", result.stdout, re.MULTILINE)
        assert found is not None, (row, result.stdout)
        assert float(found.group(1)) > 0
    assert worktrees() == before
