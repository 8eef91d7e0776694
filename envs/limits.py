"""The server's caps on what a creation may take (README, Limits).

Each check runs before anything is built, so a request over a limit changes
nothing: no record, no live environment. The per-key cap is
``access.creation_slot``; the server-wide one is ``server_slots`` here.
"""

import contextlib
import json
import threading

import gymnasium as gym
from django.conf import settings

from .errors import InvalidInput, ServerFull
from .runtime import runtime

_slots_lock = threading.Lock()
_reserved = 0  # environments being built, counted before they are in the runtime


@contextlib.contextmanager
def server_slots(count):
    """``with server_slots(n):`` around building ``n`` environments (1, or a vector
    instance's num_envs): a 429 when they would take the server past
    ``GYMAPI_MAX_INSTANCES``. The slots stay taken until the block ends, by when
    the environments are in the runtime, or failed."""
    global _reserved
    cap = settings.GYMAPI_MAX_INSTANCES
    if not cap:
        yield
        return
    # Counted and taken under one lock: two creations at cap - 1 cannot both pass
    # while the first is still building (gym.make may take seconds).
    with _slots_lock:
        held = runtime.environment_count() + _reserved
        if held + count > cap:
            raise ServerFull(cap=cap, held=held, count=count)
        _reserved += count
    try:
        yield
    finally:
        with _slots_lock:
            _reserved -= count


def check_kwargs_size(kwargs):
    """A 400 naming ``kwargs`` when they are longer than ``GYMAPI_MAX_KWARGS_BYTES`` as compact JSON."""
    limit = settings.GYMAPI_MAX_KWARGS_BYTES
    if not limit or not kwargs:
        return
    size = len(json.dumps(kwargs, separators=(",", ":"), ensure_ascii=False, default=str).encode())
    if size > limit:
        raise InvalidInput(
            "kwargs",
            f"at most {limit} bytes as JSON on this server (GYMAPI_MAX_KWARGS_BYTES); these are {size}.",
            code="too_large",
        )


def check_episode_steps(requested):
    """A 400 naming ``max_episode_steps`` when it asks for more than ``GYMAPI_MAX_EPISODE_STEPS``."""
    ceiling = settings.GYMAPI_MAX_EPISODE_STEPS
    if ceiling and requested is not None and requested > ceiling:
        raise InvalidInput(
            "max_episode_steps",
            f"at most {ceiling} on this server (GYMAPI_MAX_EPISODE_STEPS); got {requested}.",
            code="too_large",
        )


def episode_steps(env_id, requested, *, vector=False):
    """The ``max_episode_steps`` to build ``env_id`` with (after ``check_episode_steps``).

    What the client asked for; else, when the environment has no limit of its
    own or a longer one than ``GYMAPI_MAX_EPISODE_STEPS``, that ceiling, so no
    episode runs forever; else None (its own, exactly as ``gym.make`` does).
    A vector environment built by its own vector implementation with no limit of
    its own (ALE's) is left to it: those take no such argument and bound their
    episodes themselves (ALE: ``max_num_frames_per_episode``).
    """
    ceiling = settings.GYMAPI_MAX_EPISODE_STEPS
    if requested is not None or not ceiling:
        return requested
    spec = gym.spec(env_id)
    own = spec.max_episode_steps
    if own is not None and own <= ceiling:
        return None
    if own is None and vector and spec.vector_entry_point is not None:
        return None
    return ceiling
