"""`python -m bench.replay`: how fast recorded episodes replay, and what a video costs.

- Replay steps/s of a CartPole-v1 and an ALE/Pong-v5 episode through the
  replay service (``replay_checked``: the recorded actions decoded, a fresh
  environment made, reset from the seed, stepped, the figures checked), against
  making, resetting and stepping the same environment in-process with the same
  actions (as Python ints), the two measured in turns.
- The seconds to render a 500-step CartPole episode's MP4 (the video service's
  render: a replay in rgb_array mode, every frame through ffmpeg) and its size.

Episodes are built in memory (unsaved rows): no server and no database, so
the figures are the replay's own. Each figure is the median of ``REPLAY_ROUNDS``.
"""

import os
import statistics
import tempfile
import time
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gymapi.settings")
django.setup()

import gymnasium as gym  # noqa: E402 - after Django's settings: they set the headless rendering variables

from envs.actions import encode_actions  # noqa: E402
from envs.models import EnvInstance, Episode  # noqa: E402
from envs.services import videos  # noqa: E402
from envs.services.replay import replay_checked  # noqa: E402

ROUNDS = int(os.getenv("REPLAY_ROUNDS", "5"))
PONG_STEPS = int(os.getenv("REPLAY_PONG_STEPS", "2000"))


def balancer(observation, step):
    """CartPole: push toward the side the pole leans to (it lasts the 500 steps)."""
    return int(observation[2] + 0.5 * observation[3] > 0)


def pong_player(observation, step):
    return (step // 7) % 6


def recorded(env_id, policy, seed, limit=None):
    """Play ``policy`` in-process from ``seed`` for at most ``limit`` steps: the unsaved ``Episode``
    a server would have recorded (its actions encoded), and the actions."""
    env = gym.make(env_id)
    observation, _ = env.reset(seed=seed)
    actions, total, terminated, truncated = [], 0.0, False, False
    while not (terminated or truncated) and (limit is None or len(actions) < limit):
        action = policy(observation, len(actions))
        observation, reward, terminated, truncated, _ = env.step(action)
        actions.append(action)
        total += float(reward)
    instance = EnvInstance(env_id=env_id, kwargs={}, max_episode_steps=env.spec.max_episode_steps)
    episode = Episode(
        instance=instance, number=1, seed=seed, steps=len(actions), total_reward=total, terminated=terminated,
        truncated=truncated, actions=encode_actions(env.action_space, actions),
    )
    env.close()
    return episode, actions


def inprocess_seconds(env_id, seed, actions):
    """Seconds to make, reset and step ``env_id`` with ``actions`` in this process."""
    started = time.perf_counter()
    env = gym.make(env_id)
    env.reset(seed=seed)
    for action in actions:
        env.step(action)
    env.close()
    return time.perf_counter() - started


def replay_seconds(episode):
    started = time.perf_counter()
    replay_checked(episode)
    return time.perf_counter() - started


def rates(env_id, policy, seed, limit=None):
    episode, actions = recorded(env_id, policy, seed, limit)
    replay_checked(episode)  # imports and first-use caches before the clock
    inprocess, replayed = [], []
    for _ in range(ROUNDS):  # in turns: this machine's speed drifts within a minute
        inprocess.append(inprocess_seconds(env_id, seed, actions))
        replayed.append(replay_seconds(episode))
    return episode.steps, episode.steps / statistics.median(replayed), episode.steps / statistics.median(inprocess)


def video(episode, directory):
    """(seconds, bytes) of rendering ``episode``'s MP4."""
    path = Path(directory) / f"{time.perf_counter_ns()}.mp4"
    started = time.perf_counter()
    videos._render(episode, path, "mp4")
    return time.perf_counter() - started, path.stat().st_size


def main():
    rows = []
    for env_id, policy, seed, limit in (
        ("CartPole-v1", balancer, 0, None),
        ("ALE/Pong-v5", pong_player, 0, PONG_STEPS),
    ):
        steps, replayed, inprocess = rates(env_id, policy, seed, limit)
        rows.append((f"{env_id}: replay of a {steps}-step episode, steps/s", f"{replayed:,.0f}", f"{inprocess:,.0f}",
                     f"{replayed / inprocess:.2f}x"))
    episode, _ = recorded("CartPole-v1", balancer, 0)
    assert episode.steps == 500, episode.steps
    with tempfile.TemporaryDirectory(prefix="gymapi-replay-") as directory:
        made = [video(episode, directory) for _ in range(ROUNDS)]
    seconds, size = statistics.median(m[0] for m in made), made[0][1]
    rows.append(("CartPole-v1: MP4 of a 500-step episode (501 frames), seconds to render", f"{seconds:.2f}", "", ""))
    rows.append(("CartPole-v1: MP4 of a 500-step episode, bytes", f"{size:,}", "", ""))
    header = ("Row", "replay", "in-process", "replay/in-process")
    widths = [max(len(row[i]) for row in rows + [header]) for i in range(4)]
    print(f"\nReplays and videos: medians of {ROUNDS} runs\n")
    for index, row in enumerate([header] + rows):
        print("| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths)) + " |")
        if index == 0:
            print("|" + "|".join("-" * (width + 2) for width in widths) + "|")


if __name__ == "__main__":
    main()
