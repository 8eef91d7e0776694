"""Vector instances (``/v1/vector_envs/``): ``num_envs`` copies of one environment
stepped as one batch, on Gymnasium's vector API.

Services and reads, as ``services.py`` and ``selectors.py`` are for single
instances: views validate the body, call one function here and return what it
gives. The live ``gymnasium.vector.VectorEnv`` is held by the runtime
(``LiveVectorEnv``), which counts each sub-environment's episodes; finished
episodes are written in batches (Recording, below).

Values go through the same codec as single instances. An action is a list of
``num_envs`` actions, one per sub-environment, each a member of the single
action space; it is decoded and checked before the environment sees any of it.
Observations, rewards and infos come back batched as Gymnasium batches them
(an ``(num_envs, ...)`` array for a Box observation, one list per key for infos).
"""

import functools
import logging
import time
import uuid
from datetime import datetime
from datetime import timezone as dt_timezone

import numpy as np
from django.conf import settings
from django.db import connections, router, transaction
from django.db.models import Count
from django.utils import timezone
from gymnasium import spaces
from gymnasium.vector.utils import concatenate, create_empty_array, iterate

from . import limits, processes, registry
from .access import ANYONE, creation_slot
from .errors import InstanceGone, InstanceNotFound, InvalidInput, WrongInstanceKind
from .models import EnvInstance, Episode, InstanceStatus
from .recording import insert_rows, write_turn
from .registry import spec_summary
from .runtime import runtime
from .selectors import episode_row
from .services import _parse_id, ends_if_broken, instance_not_live
from .spaces import DecodeError, _short, decode_value, describe_space, encode_float, encode_value, summarize_space

logger = logging.getLogger(__name__)

# gym.make_vec's own keywords: the request's num_envs, or not settable.
RESERVED_KWARGS = {
    "num_envs": "use the top-level field num_envs",
    "vectorization_mode": "not settable: the environment's own vector implementation is used when it has one",
    "vector_kwargs": "not settable",
    "wrappers": "not settable",
}

# Single spaces whose batch is one numpy array: an action list is decoded
# against the batched space in one go, the step path's common case.
ARRAY_SPACES = (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)


def vector_get(instance_id):
    """The live vector environment of an active vector instance, or the right 404/410 error."""
    live = runtime.get_vector(instance_id)
    if live is None:  # or another spelling of a live id (upper case, no dashes, braces)
        live = runtime.get_vector(_parse_id(instance_id))
    if live is not None and not live.closed:
        if live.broken is None:
            return live
        raise InstanceGone(live.instance_id, InstanceStatus.BROKEN, reason=live.broken)  # being closed elsewhere
    instance_not_live(instance_id, vector=True)


# --- services --------------------------------------------------------------------


def vector_create(*, env_id, num_envs, seed=None, kwargs=None, max_episode_steps=None, owner_id=None):
    """Create a live vector environment and its record; returns the ``EnvInstance``.

    ``owner_id`` as in ``services.env_create``: a vector instance counts one
    against its key's GYMAPI_MAX_INSTANCES_PER_KEY.
    """
    kwargs = kwargs or {}
    limits.check_kwargs_size(kwargs)
    limits.check_episode_steps(max_episode_steps)
    registry.resolve_env_id(env_id)
    for key in kwargs:
        if key in RESERVED_KWARGS:
            raise InvalidInput(f"kwargs.{key}", RESERVED_KWARGS[key] + ".")
    registry.check_kwargs(env_id, kwargs)
    limits.check_kwarg_ranges(env_id, kwargs)
    limits.check_memory()
    max_episode_steps = limits.episode_steps(env_id, max_episode_steps, vector=True)
    instance_id = uuid.uuid4()
    with creation_slot(owner_id), limits.server_slots(num_envs):  # GYMAPI_MAX_INSTANCES counts each sub-environment
        live = runtime.create_vector(
            instance_id, env_id, num_envs=num_envs, kwargs=kwargs, max_episode_steps=max_episode_steps, seed=seed,
            owner_id=owner_id,
        )
        try:
            instance = EnvInstance.objects.create(
                id=instance_id,
                env_id=env_id,
                kwargs=kwargs,
                seed=seed,
                num_envs=num_envs,
                max_episode_steps=max_episode_steps or (live.spec.max_episode_steps if live.spec else None),
                owner_id=owner_id,
                process=processes.identity(),
            )
        except Exception:
            runtime.remove_vector(instance_id)
            raise
    logger.info("Created %d x %s as %s (%s)", num_envs, env_id, instance_id, live.vectorization_mode)
    return instance


def vector_reset(*, instance_id, seed=None, options=None, encode=encode_value):
    """Reset every sub-environment; returns the batched ``{"observation", "info"}``.

    Episodes still running end as interrupted. ``encode`` as in ``services.env_reset``.
    """
    live = vector_get(instance_id)
    with live.lock, ends_if_broken(live, end=vector_end):
        body, write = reset_locked(live, seed=seed, options=options, encode=encode)
        if write is not None:
            write()
    return body


def reset_locked(live, *, seed=None, options=None, encode=encode_value):
    """``vector_reset`` on a live vector instance whose lock the caller holds; touches no
    database. Returns ``(body, write)`` as ``services.reset_locked`` does."""
    if options and "reset_mask" in options:
        raise InvalidInput("options.reset_mask", "partial resets are not served: a reset resets every sub-environment.")
    _check_open(live)
    observation, info = live.reset(seed=seed, options=options)
    # The episodes the reset interrupted, and any not written yet.
    return {"observation": encode(observation), "info": encode(info)}, _take_write(live)


def vector_step(*, instance_id, action, encode=encode_value):
    """Decode one action per sub-environment, step them all, and return the batched step body.

    Sub-environments whose episode ended reset themselves (Gymnasium's
    autoreset, README: Vector environments); the episodes that ended are
    recorded (``_stepped``: several steps' worth in one write).
    """
    live = vector_get(instance_id)
    with live.lock, ends_if_broken(live, end=vector_end):
        body, write = step_locked(live, action, encode=encode)
        if write is not None:
            write()
    return body


def step_locked(live, action, *, encode=encode_value):
    """``vector_step`` on a live vector instance whose lock the caller holds; touches no
    database. Returns ``(body, write)`` as ``services.step_locked`` does."""
    _check_open(live)
    decoded = vector_action_decode(live, action)
    observation, reward, terminated, truncated, info = live.step(decoded)
    body = {
        "observation": encode(observation),
        "reward": encode(reward),
        "terminated": terminated.tolist(),
        "truncated": truncated.tolist(),
        "info": encode(info),
        "done": (terminated | truncated).tolist(),
    }
    return body, _stepped(live) if live.finished else None


def _check_open(live):
    if live.closed:  # closed by a concurrent request since vector_get
        raise InstanceGone(live.instance_id, InstanceStatus.CLOSED)


def vector_action_decode(live, action):
    """A list of ``num_envs`` JSON actions as a member of the batched action space,
    or a 400 naming the sub-environment and the space its action must be in."""
    single, count = live.single_action_space, live.num_envs
    if not isinstance(action, list) or len(action) != count:
        raise InvalidInput(
            "action",
            f"expected a list of {count} actions, one per sub-environment, each in {summarize_space(single)}; "
            f"got {_short(action)}",
            code="invalid_action",
        )
    if isinstance(single, spaces.Discrete) and all(type(item) is int for item in action):
        # The step path's common case, in one numpy call: plain integers (no
        # bools, no 1.0s, which the codec reads too) for a Discrete space.
        try:
            batch = np.array(action, dtype=live.action_space.dtype)
        except OverflowError:
            batch = None
        if batch is not None and live.action_space.contains(batch):
            return batch
    if isinstance(single, ARRAY_SPACES):
        try:
            return decode_value(live.action_space, action, "action")
        except DecodeError:
            pass  # decoded one by one below, to say which one is wrong
    items = []
    for index, item in enumerate(action):
        try:
            items.append(decode_value(single, item, f"action[{index}]"))
        except DecodeError as error:
            message = error.message
            expected = summarize_space(single)
            if expected not in message:
                message = f"{message}; each sub-environment's action is in {expected}"
            raise InvalidInput(error.path, message, code="invalid_action") from None
    return concatenate(single, items, create_empty_array(single, count))


def vector_action_sample(*, instance_id, encode=encode_value):
    """A random action for each sub-environment (seeded by the creation seed), as a list."""
    live = vector_get(instance_id)
    sample = live.sample_action()
    return [encode(item) for item in iterate(live.action_space, sample)]


def vector_close(*, instance_id):
    """Close a vector instance: record its episodes (running ones as interrupted),
    free the environments, mark it closed."""
    live = vector_get(instance_id)
    if not vector_end(live, status=InstanceStatus.CLOSED):
        instance_not_live(live.instance_id, vector=True)  # a concurrent close (or reaping) won the race


def vector_end(live, *, status, reason=""):
    """End a live vector instance, recorded with ``status`` (closed, reaped, broken) and
    ``reason``, as ``services.instance_end`` does. Returns False when it had already ended."""
    with live.lock:
        if live.closed:
            return False
        finished = live.end_episodes()
        with transaction.atomic():
            _write(live, finished)
            EnvInstance.objects.filter(pk=live.instance_id).update(
                status=status, closed_at=timezone.now(), status_reason=reason
            )
        runtime.remove_vector(live.instance_id)
    logger.log(logging.WARNING if reason else logging.INFO, "Closed %s as %s %s", live.instance_id, status, reason)
    return True


# --- recording -------------------------------------------------------------------
#
# The rules of envs/recording.py, for many episodes at once. A vector instance
# counts each sub-environment's episode in memory (``LiveVectorEnv``) and keeps
# the episodes that ended (or were interrupted by a reset or the close) until
# they are written: together, in one transaction, when VECTOR_FLUSH_EPISODES of
# them have gathered or the last write is GYMAPI_FLUSH_SECONDS old, and always
# at a reset, a close and before the episodes are listed. A running episode has
# no row: a vector instance lost in a restart keeps the episodes written before.
#
# Many episodes end every second (64 CartPoles pushed one way: about 9,000),
# so the rows go in as one executemany of a prepared INSERT: Django's
# bulk_create prepares each field of each row in Python, about 70 us a row on
# SQLite against 11 for this, and a write per step (a commit each) cost two
# thirds of the batched step rate (README: Vector environments).

VECTOR_FLUSH_EPISODES = 1024


def _write(live, finished):
    """Write ``finished`` (``FinishedEpisode`` records of ``live``) in one transaction."""
    if not finished or not settings.GYMAPI_RECORD:
        return
    connection = connections[router.db_for_write(Episode)]
    instance = Episode._meta.get_field("instance").get_db_prep_save(uuid.UUID(live.instance_id), connection)
    moments = {}  # the episodes of one step share their end, those of one reset their start

    def moment(timestamp):
        value = moments.get(timestamp)
        if value is None:
            value = moments[timestamp] = connection.ops.adapt_datetimefield_value(
                datetime.fromtimestamp(timestamp, tz=dt_timezone.utc)
            )
        return value

    rows = [
        (
            instance, episode.sub_env, episode.number, episode.seed, moment(episode.started), moment(episode.ended),
            episode.steps, episode.total_reward, episode.terminated, episode.truncated,
        )
        for episode in finished
    ]
    # On SQLite, in turn with the single instances' writes (recording.py says why).
    with write_turn(), transaction.atomic(using=connection.alias):
        insert_rows(connection, rows)


def _take_write(live):
    """The write of the episodes ``live`` has ended since the last one (a function), or
    None; taken now, with its lock held, and made by the caller."""
    live.flushed_at = time.monotonic()
    if not live.finished:
        return None
    if not settings.GYMAPI_RECORD:
        live.finished.clear()
        return None
    return functools.partial(_write, live, live.take_finished())


def _flush(live):
    """Write the episodes ``live`` has ended since the last write (with its lock held)."""
    write = _take_write(live)
    if write is not None:
        write()


def _stepped(live):
    """After a step of a vector instance that ended episodes: their write when
    enough have gathered or the last write is old, else None."""
    if not settings.GYMAPI_RECORD:
        live.finished.clear()
        return None
    if (
        len(live.finished) >= VECTOR_FLUSH_EPISODES
        or time.monotonic() - getattr(live, "flushed_at", 0.0) >= settings.GYMAPI_FLUSH_SECONDS
    ):
        return _take_write(live)
    return None


# --- reads -----------------------------------------------------------------------


def vector_list_active(*, caller=ANYONE):
    """``{instance_id: {"env_id", "num_envs"}}`` for every active vector instance ``caller`` sees, oldest first."""
    instances = EnvInstance.objects.active().vectors().visible_to(caller).order_by("created_at")
    return {
        str(pk): {"env_id": env_id, "num_envs": num_envs}
        for pk, env_id, num_envs in instances.values_list("id", "env_id", "num_envs")
    }


def vector_detail(*, instance_id):
    """An active vector instance: its record, its spaces and each sub-environment's current episode."""
    live = vector_get(instance_id)
    instance = EnvInstance.objects.get(pk=live.instance_id)
    spec = live.spec
    with live.lock:
        running = live.running_episodes()
        steps, needs_reset = live.steps, live.needs_reset
    for episode in running:
        episode["return"] = encode_float(episode["return"])
    return {
        "instance_id": str(instance.id),
        "env_id": instance.env_id,
        "num_envs": live.num_envs,
        "vectorization_mode": live.vectorization_mode,
        "autoreset_mode": live.autoreset_mode.value,
        "status": instance.status,
        "created": instance.created_at,
        "kwargs": instance.kwargs,
        "seed": instance.seed,
        "steps": steps,
        "needs_reset": needs_reset,
        "episodes": sum(episode["number"] for episode in running),
        "sub_envs": running,
        "single_action_space": describe_space(live.single_action_space),
        "single_observation_space": describe_space(live.single_observation_space),
        "action_space": _outline(live.action_space),
        "observation_space": _outline(live.observation_space),
        "spec": {**(spec_summary(spec) if spec else {}), "max_episode_steps": instance.max_episode_steps},
    }


def _outline(space):
    """A batched space in short: its class, shape and dtype (its bounds repeat the
    single space's num_envs times; the space routes give them in full)."""
    shape, dtype = getattr(space, "shape", None), getattr(space, "dtype", None)
    return {
        "name": type(space).__name__,
        "shape": None if shape is None else [int(size) for size in shape],
        "dtype": None if dtype is None else str(dtype),
    }


def vector_space_describe(*, instance_id, which):
    """The full descriptions of a vector instance's single and batched action or observation space."""
    live = vector_get(instance_id)
    if which == "action_space":
        single, batched = live.single_action_space, live.action_space
    else:
        single, batched = live.single_observation_space, live.observation_space
    return {"num_envs": live.num_envs, "single": describe_space(single), "batched": describe_space(batched)}


def vector_episode_list(*, instance_id, limit, sub_env=None):
    """A vector instance's recorded episodes in the order they ended: the last ``limit``
    of them (of one sub-environment with ``sub_env``). Closed and lost instances keep theirs."""
    try:
        parsed = uuid.UUID(str(instance_id))
    except ValueError:
        raise InstanceNotFound(instance_id) from None
    live = runtime.get_vector(parsed)
    if live is not None:
        with live.lock:  # the episodes ended and not written yet are listed too
            if not live.closed:
                _flush(live)
    instance = EnvInstance.objects.filter(pk=parsed).first()
    if instance is None:
        raise InstanceNotFound(instance_id)
    if instance.num_envs is None:
        raise WrongInstanceKind(instance.id, vector=False)
    episodes = instance.episodes.all()
    if sub_env is not None:
        if sub_env >= instance.num_envs:
            raise InvalidInput("sub_env", f"expected 0 to {instance.num_envs - 1}: this instance has {instance.num_envs}")
        episodes = episodes.filter(sub_env=sub_env)
    count = episodes.aggregate(count=Count("id"))["count"]
    rows = list(episodes.order_by("-id")[:limit])
    rows.reverse()
    return {
        "instance_id": str(instance.id),
        "env_id": instance.env_id,
        "num_envs": instance.num_envs,
        "status": instance.status,
        "count": count,
        "episodes": [{"sub_env": episode.sub_env, **episode_row(episode)} for episode in rows],
    }
