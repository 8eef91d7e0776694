"""`python -m bench.resume` in quick mode (README, Restarts): 20 CartPoles mid-episode, one round.

With GYMAPI_RESUME on, the second server serves every instance the first held, and a sample of
them steps exactly as an uninterrupted CartPole would (the bench checks that itself); off, none.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

# It measures on databases of its own (or none), whatever DATABASE_URL says: the PostgreSQL run of make test would only repeat it.
pytestmark = pytest.mark.database_free

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def test_it_prints_the_restart_rows_and_the_second_server_serves_every_instance():
    env = {**os.environ, "RESUME_INSTANCES": "20", "RESUME_ROUNDS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "bench.resume"], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    served = re.search(r"^\| Instances it serves after the restart +\| +(\d+) \| +(\d+) \|$", result.stdout, re.MULTILINE)
    assert served is not None, result.stdout
    assert served.groups() == ("20", "0")
    for row in ("SIGTERM until the server exits, s", "Start until the server answers again, s"):
        assert re.search(rf"^\| {re.escape(row)} +\| +\d+\.\d\d \| +\d+\.\d\d \|$", result.stdout, re.MULTILINE), row
