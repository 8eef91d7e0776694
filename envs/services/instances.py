"""Instances: created, looked up, ended and closed, single and vector through one path.

Views validate input, call one service and return what it gives. Services
drive the live environment through the runtime and keep the database record
in step; episode rows go through the one writer (recording/writer.py).
"""

import contextlib
import logging
import uuid

from django.conf import settings
from django.utils import timezone

from .. import events, limits, processes, registry
from ..access import creation_slot
from ..errors import (
    EnvTimeout, InstanceElsewhere, InstanceGone, InstanceNotFound, InstanceSuspended, InvalidInput, RuntimeUnavailable,
    WrongInstanceKind,
)
from ..models import EnvInstance, InstanceStatus
from ..recording import episodes as recording
from ..recording.writer import writer
from ..runtime import SINGLE, VECTOR, ActorGone, Creation, runtime

logger = logging.getLogger(__name__)

# What the Ray runtime's instances record as their process: an actor of the cluster, held by no front.
RAY_PROCESS = "ray"

# gym.make_vec's own keywords: the request's num_envs, or not settable.
RESERVED_VECTOR_KWARGS = {
    "num_envs": "use the top-level field num_envs",
    "vectorization_mode": "not settable: the environment's own vector implementation is used when it has one",
    "vector_kwargs": "not settable",
    "wrappers": "not settable",
}


def parse_id(instance_id):
    """``instance_id`` as a UUID, or the 404 of an unknown id."""
    try:
        return uuid.UUID(str(instance_id))
    except ValueError:
        raise InstanceNotFound(instance_id) from None


def instance_get(instance_id, kind):
    """The live instance of ``kind`` (``SINGLE`` or ``VECTOR``) for ``instance_id``, or the right 404/410.

    The hot path: a dictionary lookup. The database is read only when the id
    is not live in this process.
    """
    live = runtime.get(instance_id, kind)
    if live is None:  # or another spelling of a live id (upper case, no dashes, braces)
        live = runtime.get(parse_id(instance_id), kind)
    if live is not None and not live.closed:
        if live.broken is None:
            return live
        # Broke and not closed yet (the closing is under way in another thread).
        raise InstanceGone(live.instance_id, InstanceStatus.BROKEN, reason=live.broken)
    instance_not_live(instance_id, kind)


def instance_not_live(instance_id, kind):
    """Raise the error for an id that is not live in this process as ``kind``: 404 unknown
    or of the other kind, else 410. The caller has looked the id up in its canonical
    spelling too: a live instance recorded as active must never be marked lost here."""
    parsed = parse_id(instance_id)
    instance = EnvInstance.objects.filter(pk=parsed).first()
    if instance is None:
        raise InstanceNotFound(instance_id)
    if (instance.num_envs is not None) != (kind == VECTOR):
        raise WrongInstanceKind(parsed, vector=kind == SINGLE)
    if instance.status == InstanceStatus.ACTIVE:
        # Recorded as active but not live here: held by a process that ended (lost), or by
        # another server sharing this database, which alone can serve it. On the Ray runtime
        # no actor of that name: one being made right now, or one that is gone (lost).
        if instance.process == RAY_PROCESS:
            if being_created(instance):
                raise RuntimeUnavailable(f"instance {parsed} is still being created")
        elif instance.process and not processes.is_gone(instance.process):
            raise InstanceElsewhere(parsed, instance.process)
        if EnvInstance.objects.filter(pk=parsed).mark_lost():
            events.instance_ended(parsed, InstanceStatus.LOST, owner_id=instance.owner_id)
        raise InstanceGone(parsed, InstanceStatus.LOST)
    if instance.status == InstanceStatus.SUSPENDED:  # the next server to start here rebuilds it
        raise InstanceSuspended(parsed)
    raise InstanceGone(parsed, instance.status, instance.closed_at, instance.status_reason)


def instance_create(*, kind, env_id, num_envs=None, render_mode=None, seed=None, kwargs=None, max_episode_steps=None,
                    owner_id=None, record_actions=True, num_cpus=None):
    """Create a live instance of ``kind`` and its record; returns the ``EnvInstance``.

    ``record_actions``: keep what replays each episode (README, Episodes), unless
    ``GYMAPI_RECORD_ACTIONS`` (or ``GYMAPI_RECORD``) is off.

    ``owner_id``: the ``ApiKey`` creating it (None when keys are off), held to
    GYMAPI_MAX_INSTANCES_PER_KEY (a 429, and nothing created, beyond it); a
    vector instance counts one there and its ``num_envs`` against GYMAPI_MAX_INSTANCES.
    ``num_cpus``: what its Ray actor reserves (the Ray runtime only).
    """
    kwargs = kwargs or {}
    limits.check_num_cpus(num_cpus, remote=runtime.remote)
    limits.check_kwargs_size(kwargs)
    limits.check_episode_steps(max_episode_steps)
    registry.resolve_env_id(env_id)
    if kind == VECTOR:
        for key in kwargs:
            if key in RESERVED_VECTOR_KWARGS:
                raise InvalidInput(f"kwargs.{key}", RESERVED_VECTOR_KWARGS[key] + ".")
    else:
        registry.check_render_mode(env_id, render_mode)
    registry.check_kwargs(env_id, kwargs)
    limits.check_kwarg_ranges(env_id, kwargs)
    limits.check_memory()
    if kind == VECTOR:
        limits.check_vector_seed(seed, num_envs)
        if not runtime.remote:  # on Ray the actor measures it (envs/hosting.py): a front builds no environment
            limits.check_vector_observations(env_id, num_envs, kwargs)
    max_episode_steps = limits.episode_steps(env_id, max_episode_steps, vector=kind == VECTOR)
    record_actions = record_actions and settings.GYMAPI_RECORD_ACTIONS and settings.GYMAPI_RECORD
    creation = Creation(kind, env_id, num_envs, render_mode, kwargs, max_episode_steps, seed, owner_id, record_actions,
                        num_cpus)
    instance_id = uuid.uuid4()
    record = {
        "id": instance_id, "env_id": env_id, "render_mode": render_mode, "kwargs": kwargs, "seed": seed,
        "num_envs": num_envs, "max_episode_steps": max_episode_steps, "owner_id": owner_id,
        "record_actions": record_actions,
    }
    count = num_envs if kind == VECTOR else 1
    if runtime.remote:
        instance, live = _create_in_the_cluster(creation, record, count)
    else:
        with creation_slot(owner_id), limits.server_slots(count):
            live = runtime.create(instance_id, creation)
            # A single instance's record covers it: nothing was answered yet (recording/episodes.py).
            live.covered = resumes(live) and kind == SINGLE
            try:
                instance = EnvInstance.objects.create(
                    **record | {"max_episode_steps": max_episode_steps or _own_limit(live), "resumable": resumes(live)},
                    process=processes.identity(),
                )
            except Exception:
                runtime.remove(instance_id)
                raise
    if kind == VECTOR:
        logger.info("Created %d x %s as %s (%s)", num_envs, env_id, instance_id, live.vectorization_mode)
    else:
        logger.info("Created %s as %s", env_id, instance_id)
        events.instance_created(instance)  # the monitor shows single instances
    return instance


def resumes(live):
    """Whether ``live`` is rebuilt after a restart (services/resume.py): an instance of this
    process recording what replays its episodes, with ``GYMAPI_RESUME`` on. (A vector instance
    of an environment's own vector implementation records none: runtime/vector.py.)"""
    return settings.GYMAPI_RESUME and not runtime.remote and live.record_actions


def being_created(instance):
    """Whether a Ray instance's record may be ahead of its actor: recorded first, it is
    younger than a creation may take (GYMAPI_CALL_TIMEOUT, and a margin)."""
    bound = timezone.timedelta(seconds=(settings.GYMAPI_CALL_TIMEOUT or 60) + 10)
    return timezone.now() - instance.created_at < bound


def _own_limit(live):
    return live.spec.max_episode_steps if live.spec else None


def _create_in_the_cluster(creation, record, count):
    """The Ray runtime's creation: the record first, counted against the caps of the whole
    cluster in one transaction (every front creates), then the actor; a creation that fails
    leaves no record."""
    with limits.cluster_slots(count, creation.owner_id):
        instance = EnvInstance.objects.create(**record, process=RAY_PROCESS)
    try:
        live = runtime.create(instance.id, creation)
    except BaseException:
        EnvInstance.objects.filter(pk=instance.id).delete()
        raise
    if instance.max_episode_steps is None and _own_limit(live) is not None:
        instance.max_episode_steps = _own_limit(live)
        EnvInstance.objects.filter(pk=instance.id).update(max_episode_steps=instance.max_episode_steps)
    return instance, live


def instance_close(*, instance_id, kind):
    """Close an instance: its running episodes written as interrupted, its environment freed,
    its record marked closed. Returns what the seed's server answered, and more."""
    live = instance_get(instance_id, kind)
    if not instance_end(live, status=InstanceStatus.CLOSED):
        instance_not_live(live.instance_id, kind)  # a concurrent close (or reaping) won the race
    return {"message": "Environment closed and deleted.", "instance_id": live.instance_id, "status": "closed"}


def instance_end(live, *, status, reason=""):
    """End a live instance, recorded with ``status`` (closed, reaped, broken) and ``reason``:
    its running episodes written as interrupted, its environment freed, its watchers told.
    Returns False when it had already ended."""
    with live.lock:
        if live.closed:
            return False
        # The record first: a database that cannot be reached leaves the instance as it was;
        # one another front ended meanwhile (the Ray runtime) is left as that front ended it.
        if not EnvInstance.objects.active().filter(pk=live.instance_id).update(
            status=status, closed_at=timezone.now(), status_reason=reason
        ):
            runtime.forget(live.instance_id)
            return False
        try:
            rows = _ending_rows(live)
        finally:  # an actor that hung or cannot be reached is stopped all the same: its record has ended
            runtime.remove(live.instance_id)
    writer.write_blocking(rows)
    logger.log(logging.WARNING if reason else logging.INFO, "Closed %s as %s %s", live.instance_id, status, reason)
    events.instance_ended(live.instance_id, status, owner_id=live.owner_id)
    return True


def _ending_rows(live):
    """The rows of the episodes an ending interrupts (those still running, ended now)."""
    if live.remote:
        try:
            return live.call("end")
        except (ActorGone, EnvTimeout, RuntimeUnavailable) as error:
            # Its process died, hung or cannot be reached: what it had not written goes with it.
            logger.warning("%s ended without its running episodes' rows: %s", live.instance_id, error)
            return []
    if live.kind == VECTOR:
        return recording.vector_taken(live, live.end_episodes())
    return recording.closed(live)


@contextlib.contextmanager
def ends_if_broken(live):
    """Around calls into ``live`` (its lock held): when its environment breaks (it raised
    where it must not, or hung: README, Limits), the instance is ended as broken before
    the error goes out. On the Ray runtime, an actor found gone is an instance that broke,
    unless another front ended it (then its 410 says how)."""
    try:
        yield
    except ActorGone:
        raise actor_gone(live) from None
    except Exception:
        if live.broken is not None:
            end_broken(live)
        raise


def actor_gone(live):
    """The error of a call whose actor is gone (the Ray runtime): the 410 of how the instance
    ended, recorded as broken when nothing else ended it."""
    instance = EnvInstance.objects.filter(pk=live.instance_id).first()
    if instance is not None and instance.status == InstanceStatus.ACTIVE:
        end_broken(live)
        instance.refresh_from_db()
    runtime.forget(live.instance_id)
    if instance is None:
        return InstanceNotFound(live.instance_id)
    return InstanceGone(instance.pk, instance.status, instance.closed_at, instance.status_reason)


def end_broken(live):
    """End ``live`` as broken; a failure is logged (the reaper ends it later)."""
    try:
        instance_end(live, status=InstanceStatus.BROKEN, reason=live.broken)
    except Exception:
        logger.exception("Could not record %s as broken", live.instance_id)
