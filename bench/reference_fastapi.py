"""The peer baseline for `make bench`: a minimal FastAPI server of the seed's shape.

Written the way such a server is usually written (sync handlers over a dict of
environments, pydantic bodies, FastAPI's default JSON responses) and run the
way its users run it: ``python -m uvicorn bench.reference_fastapi:app`` with
uvicorn's default options. Nothing but the benchmark uses it.
"""

import uuid
from typing import Any

import gymnasium as gym
import numpy as np
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

try:  # Atari ids (ALE/Pong-v5), as ale-py's users register them
    import ale_py

    gym.register_envs(ale_py)
except ImportError:
    pass

app = FastAPI()
envs: dict[str, gym.Env] = {}


class CreateBody(BaseModel):
    env_id: str
    seed: int | None = None


class ResetBody(BaseModel):
    seed: int | None = None


class StepBody(BaseModel):
    action: Any


def to_json(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(item) for item in value]
    return value


def get_env(instance_id: str) -> gym.Env:
    env = envs.get(instance_id)
    if env is None:
        raise HTTPException(status_code=404, detail=f"Instance {instance_id} is unknown.")
    return env


@app.post("/v1/envs/", status_code=201)
def create(body: CreateBody):
    instance_id = str(uuid.uuid4())
    envs[instance_id] = gym.make(body.env_id)
    return {"instance_id": instance_id}


@app.post("/v1/envs/{instance_id}/reset/")
def reset(instance_id: str, body: ResetBody | None = None):
    env = get_env(instance_id)
    observation, info = env.reset(seed=body.seed if body else None)
    return {"observation": to_json(observation), "info": to_json(info)}


@app.post("/v1/envs/{instance_id}/step/")
def step(instance_id: str, body: StepBody):
    env = get_env(instance_id)
    action = body.action
    if isinstance(env.action_space, gym.spaces.Box):
        action = np.asarray(action, dtype=env.action_space.dtype)
    observation, reward, terminated, truncated, info = env.step(action)
    return {
        "observation": to_json(observation),
        "reward": float(reward),
        "terminated": bool(terminated),
        "truncated": bool(truncated),
        "info": to_json(info),
    }
