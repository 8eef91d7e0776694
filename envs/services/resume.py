"""Instances that survive a restart of their server (README, Restarts).

With ``GYMAPI_RESUME`` on (the default) and the process-local runtime, an
instance recording what replays its episodes (``instances.resumes``) is never
lost to a deploy:

- ``checkpoint``: a single instance at rest (untouched for
  ``GYMAPI_FLUSH_SECONDS``) has its current episode written as it stands,
  marked as covering every answer it gave (recording/episodes.py); its next
  reset or step marks it not, before that answer goes out. The server's
  sweeper calls it.
- ``instances_suspend``: at shutdown (SIGTERM), every such instance is
  checkpointed (a vector one has its running episodes written) and recorded
  ``suspended``, its environment freed, instead of being closed; the others
  are closed as before.
- ``instances_resume``: at start-up, before the first request, every
  instance suspended on this host, and every single one whose server process
  ended (a crash) with rows covering its answers, is rebuilt under its id:
  made as it was created, its last episode (each sub-environment's) played
  again from its row (seed, options, generator state, actions), and checked
  against that row (steps, return, end). Its client's next call answers what
  it would have without the restart. One that cannot be rebuilt exactly is
  marked lost with the reason, never resumed into a state its client was not
  shown.
"""

import logging
import time

from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from .. import events, processes
from ..errors import ApiError
from ..models import EnvInstance, Episode, InstanceStatus
from ..recording import episodes as recording
from ..recording.writer import writer
from ..runtime import SINGLE, VECTOR, Creation, runtime
from .instances import resumes
from .lifecycle import instances_close_all

logger = logging.getLogger(__name__)

# Instances whose locks one checkpoint write holds at once.
BATCH = 256
# Seconds between two progress lines of a rebuild.
PROGRESS_SECONDS = 2.0

RESUME_OFF = "the server restarted with GYMAPI_RESUME off"
VECTOR_CRASHED = (
    "its server process ended (a crash): a vector instance's running episodes are written only when its "
    "server stops (SIGTERM), so it is taken up after a stop, not after a crash"
)
UNCOVERED = (
    "its server process ended (a crash) after answering steps or resets not yet written to the database: "
    "an instance resumes after a crash only when it rested for GYMAPI_FLUSH_SECONDS before it"
)


def checkpoint(*, idle=None):
    """Checkpoint this process's live instances untouched for ``idle`` seconds (default
    ``GYMAPI_FLUSH_SECONDS``; 0: all of them) whose rows do not cover every answer they
    gave; returns how many were. An instance in use right now is left for the next time."""
    if not settings.GYMAPI_RESUME or runtime.remote or writer.backlog:  # nothing is marked while rows wait
        return 0
    idle = settings.GYMAPI_FLUSH_SECONDS if idle is None else idle
    due = [
        live for live in runtime.lives(SINGLE)
        if live.record_actions and not live.covered and not live.closed and live.idle_seconds() >= idle
    ]
    done = 0
    for start in range(0, len(due), BATCH):
        held, rows = [], []
        try:
            for live in due[start : start + BATCH]:
                if not live.lock.acquire(blocking=False):
                    continue
                held.append(live)
                if not live.closed and live.broken is None:
                    rows.extend(recording.checkpoint(live))
            writer.write_blocking(rows)  # before any of them is used again: their locks are held
            done += sum(live.covered for live in held)
        except Exception:
            for live in held:
                live.covered = False  # what the database holds is not known: as if not written
            logger.exception("Could not write the checkpoint of %d instance(s)", len(held))
        finally:
            for live in held:
                live.lock.release()
    return done


def instances_suspend():
    """At shutdown: checkpoint every instance that can be rebuilt, record it ``suspended`` and
    free its environment; close the others as ``DELETE`` would. Returns ``(suspended, closed)``."""
    checkpoint(idle=0)
    covered = [live.instance_id for live in runtime.lives(SINGLE) if live.covered and live.broken is None]
    suspended = 0
    for chunk in _chunks(covered):
        suspended += EnvInstance.objects.active().filter(pk__in=chunk).update(status=InstanceStatus.SUSPENDED)
    for instance_id in covered:
        runtime.remove(instance_id)
    if settings.GYMAPI_RESUME:
        for live in runtime.lives(VECTOR):
            if live.record_actions and live.broken is None and _vector_suspended(live):
                suspended += 1
    return suspended, instances_close_all()


def _vector_suspended(live):
    """Suspend a vector instance: its running episodes written as they stand (a vector
    instance's running episodes have no rows otherwise), its record ``suspended``, its
    environment freed. Returns whether it was (if not, it is closed as before)."""
    try:
        with live.lock:
            writer.write_blocking(recording.vector_suspended(live))
            if not EnvInstance.objects.active().filter(pk=live.instance_id).update(
                status=InstanceStatus.SUSPENDED, vector_steps=live.steps
            ):
                return False
    except Exception:
        logger.exception("Could not suspend %s", live.instance_id)
        return False
    runtime.remove(live.instance_id)
    return True


def instances_resume():
    """At start-up: rebuild the instances a previous server of this host suspended, and the
    active ones whose server process ended, under their ids (or, with ``GYMAPI_RESUME``
    off, mark the suspended ones lost). Returns ``(resumed, lost)``."""
    if runtime.remote:  # a Ray actor outlives the front that made it
        return 0, 0
    if not settings.GYMAPI_RESUME:
        lost = EnvInstance.objects.filter(status=InstanceStatus.SUSPENDED).update(
            status=InstanceStatus.LOST, closed_at=timezone.now(), status_reason=RESUME_OFF
        )
        return 0, lost
    claimed = _claim()
    if not claimed:
        return 0, 0
    logger.warning("Rebuilding %d instance(s) of a previous server process...", len(claimed))
    resumed, lost, shown = 0, 0, time.monotonic()
    for index, (instance, episodes) in enumerate(_with_last_episodes(claimed), start=1):
        reason = _rebuild(instance, episodes)
        if reason is None:
            resumed += 1
        else:
            lost += 1
            EnvInstance.objects.filter(pk=instance.pk).update(
                status=InstanceStatus.LOST, closed_at=timezone.now(), status_reason=reason
            )
            logger.warning("Instance %s (%s) is lost: %s", instance.pk, instance.env_id, reason)
        if time.monotonic() - shown >= PROGRESS_SECONDS or index == len(claimed):
            shown = time.monotonic()
            logger.warning("Rebuilt %d of %d instance(s) (%d resumed, %d lost).", index, len(claimed), resumed, lost)
    return resumed, lost


def _claim():
    """The instances to rebuild, recorded as this process's first (so that another server
    starting beside this one takes none of them): those suspended by a server of this host,
    and the active ones whose process (of this host) ended; only instances made to be
    resumable (``EnvInstance.resumable``: ``instances.resumes``)."""
    me = processes.identity()
    host = me.partition(":")[0]
    waiting = EnvInstance.objects.filter(resumable=True).exclude(pk__in=runtime.ids())
    found = {}
    for pk, status, process in waiting.filter(
        status__in=[InstanceStatus.SUSPENDED, InstanceStatus.ACTIVE], process__startswith=f"{host}:"
    ).values_list("pk", "status", "process"):
        if status == InstanceStatus.SUSPENDED or processes.is_gone(process):
            found.setdefault((status, process), []).append(pk)
    with transaction.atomic():
        for (status, process), pks in found.items():
            for chunk in _chunks(pks):
                EnvInstance.objects.filter(pk__in=chunk, status=status, process=process).update(
                    status=InstanceStatus.ACTIVE, process=me
                )
    suspended = {pk for (status, _), pks in found.items() if status == InstanceStatus.SUSPENDED for pk in pks}
    claimed = [pk for pks in found.values() for pk in pks]
    instances = []
    for chunk in _chunks(claimed):
        instances.extend(EnvInstance.objects.filter(pk__in=chunk, process=me))
    for instance in instances:
        instance.was_suspended = instance.pk in suspended
    return sorted(instances, key=lambda instance: instance.created_at)


def _chunks(items, size=500):
    """``items`` a few hundred at a time: a query binds at most 999 parameters on SQLite."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _with_last_episodes(instances):
    """Each of ``instances`` with the rows of its last episodes, one per sub-environment, in
    order (none when it was never reset)."""
    for chunk in _chunks(instances):
        last = (
            Episode.objects.filter(instance=OuterRef("instance"), sub_env=OuterRef("sub_env"))
            .order_by("-number").values("number")[:1]
        )
        episodes = {}
        for episode in Episode.objects.filter(
            instance__in=[instance.pk for instance in chunk], number=Subquery(last)
        ).order_by("sub_env"):
            episodes.setdefault(episode.instance_id, []).append(episode)
        for instance in chunk:
            yield instance, episodes.get(instance.pk, [])


def _rebuild(instance, episodes):
    """Rebuild ``instance`` in this process's runtime from ``episodes``, the rows of its last
    episodes: None when it was, else why not (its environment, if made, freed again)."""
    vector = instance.num_envs is not None
    if vector and not instance.was_suspended:
        return VECTOR_CRASHED
    if not vector and episodes and not episodes[0].resumable:
        return UNCOVERED
    longest = max((episode.steps for episode in episodes), default=0)
    if longest > settings.GYMAPI_RESUME_MAX_STEPS:
        return (
            f"its episode had {longest} steps, more than GYMAPI_RESUME_MAX_STEPS "
            f"({settings.GYMAPI_RESUME_MAX_STEPS}) replays at start-up"
        )
    creation = Creation(
        VECTOR if vector else SINGLE, instance.env_id, num_envs=instance.num_envs, render_mode=instance.render_mode,
        kwargs=instance.kwargs, max_episode_steps=instance.max_episode_steps, seed=instance.seed,
        owner_id=instance.owner_id, record_actions=True,
    )
    try:
        live = runtime.create(instance.pk, creation)
    except ApiError as error:
        return f"it could not be made again: {error.detail}"
    try:
        if episodes:
            reason = _replayed_vector(live, instance, episodes) if vector else _replayed(live, episodes[0])
            if reason is not None:
                runtime.remove(live.instance_id)
                return reason
    except ApiError as error:
        runtime.remove(live.instance_id)
        return f"its episode could not be played again: {error.detail}"
    except BaseException:
        runtime.remove(live.instance_id)
        raise
    live.covered = not vector and resumes(live)
    if not vector:
        events.instance_created(instance)  # the monitor shows single instances
    return None


def _differs(live, episode, replayed):
    """Why ``episode`` played again as ``replayed`` shows an environment that is not
    deterministic under replay, or None when it came to what was recorded."""
    ended = episode.ended_at is not None
    recorded = (episode.steps, episode.total_reward, episode.terminated, episode.truncated)
    if (replayed.steps, replayed.total_reward, replayed.terminated, replayed.truncated) == recorded and not (
        replayed.ended_early or (replayed.terminated or replayed.truncated) != ended
    ):
        return None
    where = f" of sub-environment {episode.sub_env}" if live.kind == VECTOR else ""
    return (
        f"{live.env_id} is not deterministic under replay: its episode {episode.number}{where} played again from its "
        f"seed and actions came to {replayed.steps} steps and a return of {replayed.total_reward!r} "
        f"(terminated {replayed.terminated}, truncated {replayed.truncated}), where {episode.steps} steps and "
        f"{episode.total_reward!r} (terminated {episode.terminated}, truncated {episode.truncated}) were recorded"
    )


def _replayed(live, episode):
    """Play ``episode`` again in the single instance ``live`` and take it up as its running
    episode: None when it replayed as recorded, else why not."""
    replayed = live.replay_episode(
        number=episode.number, seed=episode.seed, options=episode.options, generator=episode.generator,
        actions=episode.actions,
    )
    reason = _differs(live, episode, replayed)
    if reason is not None:
        return reason
    record = recording.EpisodeRecord(episode.number, episode.seed, episode.options, episode.generator,
                                     live.episode_actions)
    record.started = episode.started_at.timestamp()
    record.written = True
    if episode.ended_at is not None:
        record.finished, record.ended = True, episode.ended_at.timestamp()
        record.terminated, record.truncated = episode.terminated, episode.truncated
    live.record = record
    return None


def _replayed_vector(live, instance, episodes):
    """Play each sub-environment's last episode again in the vector instance ``live``: None
    when each replayed as recorded, else why not."""
    if not live.record_actions or [episode.sub_env for episode in episodes] != list(range(live.num_envs)):
        return "its sub-environments' episodes were not all recorded with what replays them"
    for episode, replayed in zip(episodes, live.replay_episodes(episodes, instance.vector_steps or 0)):
        reason = _differs(live, episode, replayed)
        if reason is not None:
            return reason
    return None
