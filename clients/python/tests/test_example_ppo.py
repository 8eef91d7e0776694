"""The PPO example trains through the server: a short learn() as a smoke test."""

import re
import subprocess
import sys
from pathlib import Path

import requests

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "ppo_cartpole.py"


def active_ids(url):
    return set(requests.get(f"{url}/v1/envs/", timeout=10).json())


def test_it_trains_ppo_through_the_server_and_evaluates_it(url):
    before = active_ids(url)
    finished = subprocess.run(
        [sys.executable, str(EXAMPLE), "--url", url, "--timesteps", "256", "--n-envs", "2", "--eval-episodes", "2"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert finished.returncode == 0, finished.stderr
    assert re.search(r"PPO on CartPole-v1 through .*: 256 steps in .* evaluation return [\d.]+ ± [\d.]+", finished.stdout)
    assert active_ids(url) <= before  # training and evaluation environments were closed
