"""Train Stable-Baselines3's PPO on CartPole-v1 through a gymapi server, then evaluate it.

    make run                                   # in the gymapi checkout: serves on :5000
    pip install -e clients/python stable-baselines3
    python clients/python/examples/ppo_cartpole.py --url http://127.0.0.1:5000 --timesteps 100000

Every reset and step of training and evaluation is an HTTP call to the server;
watch the environments learn at /monitor.html while it runs.
"""

import argparse
import time

from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.monitor import Monitor

from gymapi_client import RemoteEnv


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:5000", help="the gymapi server")
    parser.add_argument("--timesteps", type=int, default=100_000, help="training steps, over all environments")
    parser.add_argument("--n-envs", type=int, default=8, help="environments stepped side by side")
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    envs = make_vec_env(lambda: RemoteEnv(args.url, "CartPole-v1"), n_envs=args.n_envs, seed=args.seed)
    # Hyperparameters tuned for CartPole: short rollouts from 8 environments,
    # many epochs over each; 100k steps are enough to balance the pole for 500 steps.
    model = PPO(
        "MlpPolicy",
        envs,
        n_steps=32,
        batch_size=256 if args.n_envs * 32 >= 256 else args.n_envs * 32,
        gae_lambda=0.8,
        gamma=0.98,
        n_epochs=20,
        ent_coef=0.0,
        learning_rate=lambda remaining: remaining * 1e-3,
        clip_range=lambda remaining: remaining * 0.2,
        seed=args.seed,
        device="cpu",
        verbose=0,
    )
    started = time.monotonic()
    model.learn(total_timesteps=args.timesteps)
    trained = time.monotonic() - started
    envs.close()

    with Monitor(RemoteEnv(args.url, "CartPole-v1", seed=args.seed + 1000)) as env:
        mean, std = evaluate_policy(model, env, n_eval_episodes=args.eval_episodes, deterministic=True)
    print(
        f"PPO on CartPole-v1 through {args.url}: {model.num_timesteps} steps in {trained:.0f} s "
        f"({model.num_timesteps / trained:.0f} steps/s); "
        f"evaluation return {mean:.1f} ± {std:.1f} over {args.eval_episodes} episodes"
    )
    return mean


if __name__ == "__main__":
    main()
