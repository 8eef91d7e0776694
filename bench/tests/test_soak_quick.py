"""`SOAK_SECONDS=10 python -m bench.soak`: the soak test in quick mode (README, Soak test).

32 clients create, play and close CartPoles against the production server for
10 seconds: no request may fail, and the database must hold exactly the
episodes the clients saw finish once the server has shut down.
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


def test_it_soaks_for_10_seconds_without_an_error_or_a_lost_episode():
    env = {**os.environ, "SOAK_SECONDS": "10", "SOAK_CLIENTS": "32"}
    result = subprocess.run(
        [sys.executable, "-m", "bench.soak"], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=180
    )
    summary = re.search(r"^SOAK (.*)$", result.stdout, re.MULTILINE)
    assert summary is not None, result.stdout[-3000:] + result.stderr[-3000:]
    figures = dict(item.split("=") for item in summary.group(1).split())
    assert figures["errors"] == "0", result.stdout
    assert figures["consistent"] == "yes", result.stdout
    assert figures["exit"] == "0", result.stdout  # the server shut down cleanly on SIGTERM
    assert int(figures["episodes"]) > 0 and figures["recorded"] == figures["episodes"], result.stdout
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
