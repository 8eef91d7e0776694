"""Reads: what the API shows about instances, their spaces and their history."""

from django.db.models import Count

from .models import EnvInstance
from .registry import render_modes_of, spec_summary
from .services import live_get, space_of
from .spaces import describe_space, encode_float


def instance_list_active():
    """``{instance_id: env_id}`` for every active instance (the seed's shape)."""
    return {str(pk): env_id for pk, env_id in EnvInstance.objects.active().order_by("created_at").values_list("id", "env_id")}


def instance_detail(*, instance_id):
    """An active instance: its record, its current episode and its spec."""
    live = live_get(instance_id)
    instance = EnvInstance.objects.annotate(episode_count=Count("episodes")).get(pk=live.instance_id)
    spec = live.spec
    with live.lock:
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
        "episodes": instance.episode_count,
        "episode": episode,
        "spec": {
            **(spec_summary(spec) if spec else {}),
            "max_episode_steps": instance.max_episode_steps,
            "render_modes": live.metadata.get("render_modes") or render_modes_of(instance.env_id),
            "render_fps": live.metadata.get("render_fps"),
        },
    }


def space_describe(*, instance_id, which):
    """The full JSON description of an instance's action or observation space."""
    return describe_space(space_of(live_get(instance_id), which))


