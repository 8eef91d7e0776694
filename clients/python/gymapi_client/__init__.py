"""A Python client for gymapi: Gymnasium environments served over HTTP.

    from gymapi_client import RemoteEnv

    with RemoteEnv("http://127.0.0.1:5000", "CartPole-v1", seed=42) as env:
        observation, info = env.reset()
        observation, reward, terminated, truncated, info = env.step(env.action_space.sample())
"""

from .env import RemoteEnv, shared_session
from .errors import (
    GymapiError,
    InstanceGone,
    InvalidRequest,
    NotFound,
    ResetNeeded,
    ServerError,
    ServerUnreachable,
)
from .spaces import UnknownSpace, build_space, decode_value, encode_value

__all__ = [
    "RemoteEnv",
    "shared_session",
    "GymapiError",
    "InvalidRequest",
    "ResetNeeded",
    "NotFound",
    "InstanceGone",
    "ServerError",
    "ServerUnreachable",
    "UnknownSpace",
    "build_space",
    "decode_value",
    "encode_value",
]
