"""Reads: what the API shows about instances, their spaces and their history."""

import uuid

from django.db.models import Count

from . import recording
from .access import ANYONE
from .errors import InstanceNotFound, WrongInstanceKind
from .models import EnvInstance
from .registry import render_modes_of, served_modes, spec_summary
from .runtime import runtime
from .services import live_get, space_of
from .spaces import describe_space, encode_float


def instance_list_active(*, caller=ANYONE):
    """``{instance_id: env_id}`` for every active instance ``caller`` sees (the seed's shape); vector ones are listed apart."""
    instances = EnvInstance.objects.active().singles().visible_to(caller).order_by("created_at")
    return {str(pk): env_id for pk, env_id in instances.values_list("id", "env_id")}


def instance_detail(*, instance_id):
    """An active instance: its record, its current episode and its spec."""
    live = live_get(instance_id)
    instance = EnvInstance.objects.get(pk=live.instance_id)
    spec = live.spec
    with live.lock:
        episodes_so_far = live.episode_number
        episode = {
            "number": live.episode_number,
            "steps": live.episode_steps,
            "return": encode_float(live.episode_return),
            "terminated": live.terminated,
            "truncated": live.truncated,
            "needs_reset": live.needs_reset or live.episode_over,
        }
    return {
        "instance_id": str(instance.id),
        "env_id": instance.env_id,
        "render_mode": instance.render_mode,
        "status": instance.status,
        "created": instance.created_at,
        "kwargs": instance.kwargs,
        "seed": instance.seed,
        "episodes": episodes_so_far,
        "episode": episode,
        "spec": {
            **(spec_summary(spec) if spec else {}),
            "max_episode_steps": instance.max_episode_steps,
            "render_modes": served_modes(live.metadata.get("render_modes")) or render_modes_of(instance.env_id),
            "render_fps": live.metadata.get("render_fps"),
        },
    }


def space_describe(*, instance_id, which):
    """The full JSON description of an instance's action or observation space."""
    return describe_space(space_of(live_get(instance_id), which))



def episode_row(episode):
    """An ``Episode`` as the episodes routes show it (single and vector)."""
    return {
        "number": episode.number,
        "seed": episode.seed,
        "started": episode.started_at,
        "ended": episode.ended_at,
        "steps": episode.steps,
        "return": encode_float(episode.total_reward),
        "terminated": episode.terminated,
        "truncated": episode.truncated,
        "outcome": episode.outcome,
    }


def episode_list(*, instance_id, limit):
    """An instance's recorded episodes, oldest first: the last ``limit`` of them.

    Read from the database, so closed and lost instances have theirs too. The
    running episode of a live instance shows its live counts, which the
    database has only every few seconds.
    """
    try:
        parsed = uuid.UUID(str(instance_id))
    except ValueError:
        raise InstanceNotFound(instance_id) from None
    instance = EnvInstance.objects.filter(pk=parsed).annotate(episode_count=Count("episodes")).first()
    if instance is None:
        raise InstanceNotFound(instance_id)
    if instance.num_envs is not None:
        raise WrongInstanceKind(instance.id, vector=True)
    episodes = list(instance.episodes.order_by("-number")[:limit])
    episodes.reverse()
    count = instance.episode_count
    live = runtime.get(instance.id)
    if live is not None:
        with live.lock:
            running = recording.running_episode(live)
        if running is not None:  # not written yet: shown from memory
            episodes = (episodes + [running])[-limit:] if limit else []
            count += 1
    rows = [episode_row(episode) for episode in episodes]
    if rows and live is not None and rows[-1]["outcome"] == "running":
        with live.lock:
            if live.episode_number == rows[-1]["number"]:
                rows[-1].update(steps=live.episode_steps, **{"return": encode_float(live.episode_return)})
    return {
        "instance_id": str(instance.id),
        "env_id": instance.env_id,
        "status": instance.status,
        "count": count,
        "episodes": rows,
    }
