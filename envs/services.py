"""Everything that changes an environment instance goes through these functions.

Views validate input, call one service and return what it gives. Services
decode actions with the codec, drive the live environment through the
runtime, and keep the database record in step.
"""

import contextlib
import logging
import uuid

from django.db import transaction
from django.utils import timezone

from monitor import broadcast

from . import limits, processes, recording, registry
from .access import creation_slot
from .errors import ApiError, EnvBroken, EnvTimeout, InstanceGone, InstanceNotFound, InvalidInput, WrongInstanceKind
from .models import EnvInstance, InstanceStatus
from .runtime import runtime
from .spaces import DecodeError, decode_value, encode_value, summarize_space

logger = logging.getLogger(__name__)


def _parse_id(instance_id):
    try:
        return uuid.UUID(str(instance_id))
    except ValueError:
        raise InstanceNotFound(instance_id) from None


def live_get(instance_id):
    """The live environment of an active instance, or the right 404/410 error.

    The hot path: a dictionary lookup. The database is read only when the id
    is not live in this process.
    """
    live = runtime.get(instance_id)
    if live is None:  # or another spelling of a live id (upper case, no dashes, braces)
        live = runtime.get(_parse_id(instance_id))
    if live is not None and not live.closed:
        if live.broken is None:
            return live
        # Broke and not closed yet (the closing is under way in another thread).
        raise InstanceGone(live.instance_id, InstanceStatus.BROKEN, reason=live.broken)
    instance_not_live(instance_id, vector=False)


def instance_not_live(instance_id, *, vector):
    """Raise the error for an id that is not live in this process as that kind
    (``vector``: a vector instance): 404 unknown or of the other kind, else 410.
    The caller has looked the id up in its canonical spelling too: a live
    instance recorded as active must never be marked lost here."""
    parsed = _parse_id(instance_id)
    instance = EnvInstance.objects.filter(pk=parsed).first()
    if instance is None:
        raise InstanceNotFound(instance_id)
    if (instance.num_envs is not None) != vector:
        raise WrongInstanceKind(parsed, vector=not vector)
    if instance.status == InstanceStatus.ACTIVE:
        # Recorded as active but not live here: a previous process held it.
        if EnvInstance.objects.filter(pk=parsed, status=InstanceStatus.ACTIVE).mark_lost():
            broadcast.instance_ended(parsed, InstanceStatus.LOST, owner_id=instance.owner_id)
        raise InstanceGone(parsed, InstanceStatus.LOST)
    raise InstanceGone(parsed, instance.status, instance.closed_at, instance.status_reason)


def env_create(*, env_id, render_mode=None, seed=None, kwargs=None, max_episode_steps=None, owner_id=None):
    """Create a live environment and its record; returns the ``EnvInstance``.

    ``owner_id``: the ``ApiKey`` creating it (None when keys are off), held to
    GYMAPI_MAX_INSTANCES_PER_KEY (a 429, and nothing created, beyond it).
    """
    kwargs = kwargs or {}
    limits.check_kwargs_size(kwargs)
    limits.check_episode_steps(max_episode_steps)
    registry.resolve_env_id(env_id)
    registry.check_render_mode(env_id, render_mode)
    registry.check_kwargs(env_id, kwargs)
    limits.check_kwarg_ranges(env_id, kwargs)
    limits.check_memory()
    max_episode_steps = limits.episode_steps(env_id, max_episode_steps)
    instance_id = uuid.uuid4()
    with creation_slot(owner_id), limits.server_slots(1):
        live = runtime.create(
            instance_id, env_id, render_mode=render_mode, kwargs=kwargs, max_episode_steps=max_episode_steps, seed=seed,
            owner_id=owner_id,
        )
        try:
            instance = EnvInstance.objects.create(
                id=instance_id,
                env_id=env_id,
                render_mode=render_mode,
                kwargs=kwargs,
                seed=seed,
                max_episode_steps=max_episode_steps or (live.spec.max_episode_steps if live.spec else None),
                owner_id=owner_id,
                process=processes.identity(),
            )
        except Exception:
            runtime.remove(instance_id)
            raise
    logger.info("Created %s as %s", env_id, instance_id)
    broadcast.instance_created(instance)
    return instance


def env_reset(*, instance_id, seed=None, options=None, encode=encode_value):
    """Start a new episode; returns ``{"observation", "info"}``.

    ``encode`` turns values into the body's encoding: JSON by default,
    ``envs.binary.encode_value`` for msgpack.
    """
    live = live_get(instance_id)
    with live.lock, ends_if_broken(live):
        body, write = reset_locked(live, seed=seed, options=options, encode=encode)
        if write is not None:
            write()
    return body


def reset_locked(live, *, seed=None, options=None, encode=encode_value):
    """``env_reset`` on a live instance whose lock the caller holds; touches no database.

    Returns ``(body, write)``: ``write`` is the episode record to write before
    the body is sent (a function), or None.
    """
    steps, total = live.episode_steps, live.episode_return
    if live.episode_number and not live.episode_over:
        broadcast.episode_finished(live)  # interrupted by this reset
    observation, info = live.reset(seed=seed, options=options)
    write = recording.episode_started(live, interrupted_steps=steps, interrupted_return=total)
    return {"observation": encode(observation), "info": encode(info)}, write


def env_step(*, instance_id, action, encode=encode_value):
    """Decode ``action``, take one step, and return the step's body (see ``env_reset`` for ``encode``)."""
    live = live_get(instance_id)
    with live.lock, ends_if_broken(live):
        body, write = step_locked(live, action, encode=encode)
        if write is not None:
            write()
    return body


def step_locked(live, action, *, encode=encode_value):
    """``env_step`` on a live instance whose lock the caller holds; touches no database.

    Returns ``(body, write)`` as ``reset_locked`` does.
    """
    decoded = action_decode(live, action)
    observation, reward, terminated, truncated, info = live.step(decoded)
    write = recording.episode_stepped(live)
    if terminated or truncated:
        broadcast.episode_finished(live)
    body = {
        "observation": encode(observation),
        "reward": encode(reward),
        "terminated": terminated,
        "truncated": truncated,
        "info": encode(info),
        "done": terminated or truncated,
    }
    return body, write


def action_decode(live, action):
    """The JSON action as a member of the action space, or a 400 naming the space."""
    try:
        return decode_value(live.action_space, action, "action")
    except DecodeError as error:
        message = error.message
        expected = summarize_space(live.action_space)
        if expected not in message:  # the client needs the space to fix its action
            message = f"{message}; the action space is {expected}"
        raise InvalidInput(error.path, message, code="invalid_action") from None


def env_close(*, instance_id):
    """Close an instance: end its episode record, free the environment, mark it closed."""
    live = live_get(instance_id)
    if not instance_end(live, status=InstanceStatus.CLOSED):
        instance_not_live(live.instance_id, vector=False)  # a concurrent close (or reaping) won the race


def instance_end(live, *, status, reason=""):
    """End a live single instance, recorded with ``status`` (closed, reaped, broken)
    and ``reason``: its running episode written as interrupted, its environment
    freed, its watchers told. Returns False when it had already ended."""
    with live.lock:
        if live.closed:
            return False
        write = recording.episode_closed(live)
        with transaction.atomic():
            if write is not None:
                write()
            EnvInstance.objects.filter(pk=live.instance_id).update(
                status=status, closed_at=timezone.now(), status_reason=reason
            )
        runtime.remove(live.instance_id)
    logger.log(logging.WARNING if reason else logging.INFO, "Closed %s as %s %s", live.instance_id, status, reason)
    broadcast.instance_ended(live.instance_id, status, owner_id=live.owner_id)
    return True


@contextlib.contextmanager
def ends_if_broken(live, end=instance_end):
    """Around calls into ``live`` (its lock held): when its environment breaks (it
    raised where it must not, or hung: README, Limits), the instance is ended as
    broken (``end``: ``instance_end``, or ``vector.vector_end``) before the error goes out."""
    try:
        yield
    except (EnvBroken, EnvTimeout):
        try:
            end(live, status=InstanceStatus.BROKEN, reason=live.broken)
        except Exception:  # the error still goes out; the reaper ends it later (reaping.reap)
            logger.exception("Could not record %s as broken", live.instance_id)
        raise


def space_of(live, which):
    if which == "action_space":
        return live.action_space
    if which == "observation_space":
        return live.observation_space
    raise ApiError(f"Unknown space {which!r}.")


def space_contains(*, instance_id, which, x):
    """Whether the JSON value ``x`` is a member of the instance's action or observation space."""
    live = live_get(instance_id)
    try:
        decode_value(space_of(live, which), x, "x")
    except DecodeError:
        return False
    return True


def action_sample(*, instance_id, encode=encode_value):
    """A random action from the instance's action space (seeded by the creation seed)."""
    live = live_get(instance_id)
    return encode(live.sample_action())


def instances_mark_lost():
    """Mark instances recorded active but not live in this process as lost.

    Called once when the server starts: environments live in one process, so
    any instance still recorded active then belongs to a process that is gone.
    Vector instances too.
    """
    return EnvInstance.objects.mark_lost(keep_ids=runtime.ids() + runtime.vector_ids())


def instances_close_all():
    """Close every live instance, single and vector, as ``DELETE`` would: each
    running episode is written (ended, as interrupted) and each instance marked
    closed. Returns how many were closed.

    The server's shutdown (gymapi/serve.py) calls it once the requests in
    flight are answered; one that fails to close is logged and the others
    still are.
    """
    from . import vector  # vector.py builds on this module

    closed = 0
    for close, ids in ((env_close, runtime.ids()), (vector.vector_close, runtime.vector_ids())):
        for instance_id in ids:
            try:
                close(instance_id=instance_id)
            except InstanceGone:  # closed meanwhile by a request
                continue
            except Exception:
                logger.exception("Could not close %s", instance_id)
                continue
            closed += 1
    return closed
