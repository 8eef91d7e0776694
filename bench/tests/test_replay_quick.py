"""`python -m bench.replay` runs end to end and prints its table (one round, a short Pong episode)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

# It measures on databases of its own (or none), whatever DATABASE_URL says: the PostgreSQL run of make test would only repeat it.
pytestmark = pytest.mark.database_free

BASE_DIR = Path(__file__).resolve().parent.parent.parent
ROWS = [
    "CartPole-v1: replay of a 500-step episode, steps/s",
    "ALE/Pong-v5: replay of a 50-step episode, steps/s",
    "CartPole-v1: MP4 of a 500-step episode (501 frames), seconds to render",
    "CartPole-v1: MP4 of a 500-step episode, bytes",
]


def test_it_prints_the_replay_table():
    env = {**os.environ, "REPLAY_ROUNDS": "1", "REPLAY_PONG_STEPS": "50"}
    result = subprocess.run(
        [sys.executable, "-m", "bench.replay"], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for row in ROWS:
        line = next((line for line in result.stdout.splitlines() if row in line), None)
        assert line is not None, f"{row!r} missing from:\n{result.stdout}"
        assert line.split("|")[2].strip(), line  # a figure
