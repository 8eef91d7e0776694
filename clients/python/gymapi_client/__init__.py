"""A Python client for gymapi: Gymnasium environments served over HTTP (or WebSocket).

    from gymapi_client import RemoteEnv

    with RemoteEnv("http://127.0.0.1:5000", "CartPole-v1", seed=42) as env:
        observation, info = env.reset()
        observation, reward, terminated, truncated, info = env.step(env.action_space.sample())

    from gymapi_client import RemoteVectorEnv

    with RemoteVectorEnv("http://127.0.0.1:5000", "CartPole-v1", 64, seed=42) as envs:
        observations, infos = envs.reset()          # a (64, 4) float32 array
        observations, rewards, terminations, truncations, infos = envs.step(envs.action_space.sample())
"""

from .env import RemoteEnv, shared_session
from .socket import StepSocket
from .errors import (
    GymapiError,
    InstanceGone,
    InvalidRequest,
    LimitExceeded,
    NotFound,
    ResetNeeded,
    ServerError,
    ServerUnreachable,
    Unauthorized,
)
from .spaces import UnknownSpace, build_space, decode_value, encode_value
from .vector import RemoteVectorEnv

__all__ = [
    "RemoteEnv",
    "RemoteVectorEnv",
    "shared_session",
    "StepSocket",
    "GymapiError",
    "InvalidRequest",
    "ResetNeeded",
    "NotFound",
    "InstanceGone",
    "ServerError",
    "ServerUnreachable",
    "Unauthorized",
    "LimitExceeded",
    "UnknownSpace",
    "build_space",
    "decode_value",
    "encode_value",
]
