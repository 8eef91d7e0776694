"""The server's caps on what a creation may take (README, Limits).

Each check runs before anything is built, so a request over a limit changes
nothing: no record, no live environment. The per-key cap is
``access.creation_slot``; the server-wide ones are ``server_slots`` (the count
of environments) and ``check_memory`` (the process's memory) here.
"""

import contextlib
import functools
import json
import os
import reprlib
import resource
import sys
import threading
from typing import NamedTuple

import gymnasium as gym
import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Sum
from django.db.models.functions import Coalesce
from rest_framework import status

from .access import TooManyInstances
from .errors import ApiError, EnvError, EnvTimeout, InvalidInput, ServerFull
from .models import EnvInstance
from .runtime import runtime
from .runtime.calls import CallTimeout, run_bounded
from .serializers import MAX_SEED

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


# Taken around the count and the record of a creation on the Ray runtime: creations of every
# front serialize on it for a moment (a PostgreSQL advisory lock; its key is arbitrary, fixed).
CLUSTER_CREATIONS = 7_231_001


@contextlib.contextmanager
def cluster_slots(count, owner_id):
    """``with cluster_slots(n, owner):`` around recording a creation on the Ray runtime, where
    every front creates: the caps (``GYMAPI_MAX_INSTANCES``, ``GYMAPI_MAX_INSTANCES_PER_KEY``)
    counted from the database, and the record made, in one transaction that holds the
    cluster's creation lock, so two fronts at the last place cannot both pass."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CLUSTER_CREATIONS])
        active = EnvInstance.objects.active()
        cap = settings.GYMAPI_MAX_INSTANCES
        if cap:
            held = active.aggregate(held=Sum(Coalesce("num_envs", 1)))["held"] or 0
            if held + count > cap:
                raise ServerFull(cap=cap, held=held, count=count)
        per_key = settings.GYMAPI_MAX_INSTANCES_PER_KEY
        if per_key and owner_id is not None and active.filter(owner_id=owner_id).count() >= per_key:
            raise TooManyInstances(per_key)
        yield


def check_vector_seed(seed, num_envs):
    """A 400 naming ``seed`` when a vector instance's sub-environment seeds (``seed + i``) would
    pass what an episode row stores, a 64-bit integer."""
    if seed is not None and seed + num_envs - 1 > MAX_SEED:
        raise InvalidInput(
            "seed", f"at most {MAX_SEED - num_envs + 1} for {num_envs} sub-environments (sub-environment i is seeded seed + i).",
            code="out_of_range",
        )


def check_num_cpus(num_cpus, *, remote):
    """A 400 naming ``num_cpus`` unless it is a share of CPUs the Ray runtime may reserve for an actor."""
    if num_cpus is None:
        return
    if not remote:
        raise InvalidInput("num_cpus", "only on the Ray runtime (GYMAPI_RUNTIME=ray): here every instance shares this process.")
    most = settings.GYMAPI_RAY_MAX_NUM_CPUS
    if not 0 < num_cpus <= most:
        raise InvalidInput("num_cpus", f"more than 0 and at most {most:g} on this server (GYMAPI_RAY_MAX_NUM_CPUS).", code="out_of_range")


# --- the process's memory ---------------------------------------------------------

STATM = "/proc/self/statm"
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


class MemoryFull(ApiError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "server_memory_full"


def rss_mb():
    """This process's resident memory now, in MB: read from /proc (a few microseconds);
    where there is no /proc, the most it has held so far (getrusage)."""
    try:
        with open(STATM) as statm:
            return int(statm.read().split()[1]) * PAGE_SIZE / 2**20
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KB on Linux


def check_memory():
    """A 503 when the process holds more than ``GYMAPI_MAX_RSS_MB``: one environment
    more could take the machine to the OOM killer, and every instance with it."""
    cap = settings.GYMAPI_MAX_RSS_MB
    if not cap:
        return
    held = rss_mb()
    if held > cap:
        raise MemoryFull(
            f"This server process holds {held:,.0f} MB of memory, over GYMAPI_MAX_RSS_MB={cap}: no environment is "
            "created until memory is freed (close instances you no longer use: DELETE /v1/envs/{id}/ or "
            "/v1/vector_envs/{id}/; a restart returns what the process keeps)."
        )


# --- sizes ---------------------------------------------------------------------------


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


# --- the kwargs that size an environment or scale its work ------------------------


class Between(NamedTuple):
    """A number from ``low`` to ``high``, both included; an integer unless ``integer``
    is False. ``hint``: what to do instead, for the error."""

    low: float
    high: float
    integer: bool = True
    hint: str = ""

    @property
    def expected(self):
        if self.low == self.high:
            return f"only {self.low:,}"
        return f"{'an integer' if self.integer else 'a number'} from {self.low:,} to {self.high:,}"

    def accepts(self, value):
        kinds = int if self.integer else (int, float)
        # bool is an int to Python, not to a client; NaN compares false and is refused too.
        return isinstance(value, kinds) and not isinstance(value, bool) and self.low <= value <= self.high


class Rows(NamedTuple):
    """A map as a list of strings of one length (FrozenLake's ``desc``): at most
    ``rows`` of at most ``columns`` characters, each one of ``letters``."""

    rows: int
    columns: int
    letters: str
    hint: str = ""

    @property
    def expected(self):
        return (
            f"a list of 1 to {self.rows} strings of one length, 1 to {self.columns} characters, "
            f"of the letters {self.letters}"
        )

    def accepts(self, value):
        if not isinstance(value, list) or not 1 <= len(value) <= self.rows:
            return False
        if not all(isinstance(row, str) for row in value) or len({len(row) for row in value}) != 1:
            return False
        return 1 <= len(value[0]) <= self.columns and set("".join(value)) <= set(self.letters)


PROBABILITY = Between(0, 1, integer=False)
GRID_SIDE = Between(3, 64)
COUNT = Between(0, 32)

# Family (the module of the registered entry point, or a package above it) ->
# {kwarg: its range}. Each range keeps what the native code or a loop behind
# the kwarg does within seconds and megabytes; README, Limits, says what each
# value outside it did when tried.
KWARG_RANGES = {
    "gymnasium.envs.mujoco": {
        "frame_skip": Between(1, 25),
        "width": Between(1, 2048),
        "height": Between(1, 2048),
        "max_geom": Between(1, 10_000),
        # MuJoCo's error handler exits the process when a render names a camera the
        # model lacks, and some models have none: cameras are named (camera_name).
        "camera_id": Between(
            -1, -1, hint="A camera the model lacks would end the server at the first render: name one with camera_name."
        ),
    },
    "ale_py": {
        # ALE's (low, high) form needs a tuple, which JSON cannot carry: ALE refuses lists.
        "frameskip": Between(1, 25),
        "repeat_action_probability": PROBABILITY,
        "max_num_frames_per_episode": Between(1, 1_000_000),
    },
    "minigrid": {
        "size": GRID_SIDE,
        "width": GRID_SIDE,
        "height": GRID_SIDE,
        "grid_size": GRID_SIDE,
        "agent_view_size": Between(3, 31),
        "tile_size": Between(1, 32),
        "max_steps": Between(1, 100_000),
        "room_size": Between(3, 16),
        "num_rows": Between(1, 4),
        "num_cols": Between(1, 4),
        "maxRoomSize": Between(4, 16),
        "minNumRooms": Between(1, 8),
        "maxNumRooms": Between(1, 8),
        "numObjs": COUNT,
        "num_objs": COUNT,
        "n_obstacles": COUNT,
        "num_dists": COUNT,
        "objs_per_room": COUNT,
        "num_doors": COUNT,
        "num_crossings": COUNT,
    },
    "gymnasium.envs.toy_text.frozen_lake": {
        "desc": Rows(64, 64, "SFHG"),
        "success_rate": PROBABILITY,
    },
    "gymnasium.envs.toy_text.taxi": {
        "fickle_probability": PROBABILITY,
        "rainy_probability": PROBABILITY,
    },
}


def family_of(env_id):
    """The key of ``KWARG_RANGES`` whose package holds ``env_id``'s entry point, or None."""
    entry_point = gym.spec(env_id).entry_point
    module = entry_point.partition(":")[0] if isinstance(entry_point, str) else getattr(entry_point, "__module__", "")
    for family in KWARG_RANGES:
        if module == family or module.startswith(family + "."):
            return family
    return None


def check_kwarg_ranges(env_id, kwargs):
    """A 400 naming ``kwargs.<name>`` and its range when a kwarg that sizes ``env_id``
    or scales its work is outside its family's range (``KWARG_RANGES``)."""
    ranges = KWARG_RANGES.get(family_of(env_id), {})
    for name, value in (kwargs or {}).items():
        allowed = ranges.get(name)
        if allowed is not None and not allowed.accepts(value):
            message = f"{allowed.expected} on this server, not {reprlib.repr(value)}. {allowed.hint}".rstrip()
            raise InvalidInput(f"kwargs.{name}", message, code="out_of_range")


def check_vector_observations(env_id, num_envs, kwargs):
    """A 400 naming ``num_envs`` when ``num_envs`` copies of ``env_id``'s observation would make
    each step's answer larger than ``GYMAPI_MAX_VECTOR_OBS_BYTES``: a few vector instances of
    Atari frames in the hundreds answered tens of megabytes a step, and every other client
    waited. Measured on one environment built for it, before the copies are (cached)."""
    cap = settings.GYMAPI_MAX_VECTOR_OBS_BYTES
    if not cap:
        return
    try:
        single = observation_bytes(env_id, json.dumps(kwargs or {}, sort_keys=True))
    except CallTimeout:
        raise EnvTimeout(
            f"{env_id} was not created within {settings.GYMAPI_CALL_TIMEOUT:g} s (GYMAPI_CALL_TIMEOUT): "
            "the creation was abandoned."
        ) from None
    except Exception as error:
        raise EnvError(f"{env_id} could not be created: {type(error).__name__}: {error}") from error
    if single * num_envs > cap:
        most = max(cap // single, 0) if single else 0
        raise InvalidInput(
            "num_envs",
            f"{num_envs} copies of {env_id}'s observation ({single:,} bytes) make {single * num_envs:,} bytes a "
            f"step, more than this server allows (GYMAPI_MAX_VECTOR_OBS_BYTES, {cap:,}): at most {most}.",
            code="too_large",
        )


@functools.lru_cache(maxsize=256)
def observation_bytes(env_id, kwargs_json):
    """The bytes of one observation of ``env_id`` built with these kwargs (JSON), from its space."""
    env = run_bounded(gym.make, env_id, **json.loads(kwargs_json))
    try:
        return space_bytes(env.observation_space)
    finally:
        env.close()


def space_bytes(space):
    """The bytes a value of ``space`` holds as arrays; 0 where the space does not say (Graph, Sequence)."""
    if isinstance(space, (gym.spaces.Box, gym.spaces.Discrete, gym.spaces.MultiDiscrete, gym.spaces.MultiBinary)):
        return int(np.prod(space.shape or (1,))) * np.dtype(space.dtype).itemsize
    if isinstance(space, gym.spaces.Tuple):
        return sum(space_bytes(part) for part in space.spaces)
    if isinstance(space, gym.spaces.Dict):
        return sum(space_bytes(part) for part in space.spaces.values())
    if isinstance(space, gym.spaces.Text):
        return space.max_length * 4
    return 0
