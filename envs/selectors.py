"""Reads: what the API shows about instances, single and vector, their spaces and their history."""

from django.db.models import Count
from gymapi_client.spaces import describe_space, encode_float

from .access import ANYONE
from .actions import actions_json
from .errors import InstanceNotFound, InvalidInput, WrongInstanceKind
from .models import EnvInstance, Episode
from .recording import episodes as recording
from .recording.writer import writer
from .registry import render_modes_of, served_modes, spec_summary
from .runtime import SINGLE, VECTOR, runtime
from .services.episodes import space_of
from .services.instances import ends_if_broken, instance_get, parse_id
from .services.replay import episode_get, replay_refusal


def instance_list_active(*, caller=ANYONE):
    """``{instance_id: env_id}`` for every active single instance ``caller`` sees (the seed's shape)."""
    instances = EnvInstance.objects.active().singles().visible_to(caller).order_by("created_at")
    return {str(pk): env_id for pk, env_id in instances.values_list("id", "env_id")}


def vector_list_active(*, caller=ANYONE):
    """``{instance_id: {"env_id", "num_envs"}}`` for every active vector instance ``caller`` sees, oldest first."""
    instances = EnvInstance.objects.active().vectors().visible_to(caller).order_by("created_at")
    return {
        str(pk): {"env_id": env_id, "num_envs": num_envs}
        for pk, env_id, num_envs in instances.values_list("id", "env_id", "num_envs")
    }


def instance_detail(*, instance_id):
    """An active single instance: its record, its current episode and its spec."""
    live = instance_get(instance_id, SINGLE)
    instance = EnvInstance.objects.get(pk=live.instance_id)
    spec = live.spec
    with ends_if_broken(live):
        state = live.snapshot()
    episodes_so_far = state["episode"]
    episode = {
        "number": state["episode"],
        "steps": state["steps"],
        "return": encode_float(state["return"]),
        "terminated": state["terminated"],
        "truncated": state["truncated"],
        "needs_reset": state["needs_reset"],
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


def vector_detail(*, instance_id):
    """An active vector instance: its record, its spaces and each sub-environment's current episode."""
    live = instance_get(instance_id, VECTOR)
    instance = EnvInstance.objects.get(pk=live.instance_id)
    spec = live.spec
    with ends_if_broken(live):
        state = live.snapshot()
    running, steps, needs_reset = state["sub_envs"], state["steps"], state["needs_reset"]
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


def space_describe(*, instance_id, which):
    """The full JSON description of a single instance's action or observation space."""
    return describe_space(space_of(instance_get(instance_id, SINGLE), which))


def vector_space_describe(*, instance_id, which):
    """The full descriptions of a vector instance's single and batched action or observation space."""
    live = instance_get(instance_id, VECTOR)
    if which == "action_space":
        single, batched = live.single_action_space, live.action_space
    else:
        single, batched = live.single_observation_space, live.observation_space
    return {"num_envs": live.num_envs, "single": describe_space(single), "batched": describe_space(batched)}


def episode_row(episode):
    """An ``Episode`` as the episodes routes show it (single and vector); ``id`` (its
    /v1/episodes/{id}/) is null for a running episode not written yet."""
    return {
        "id": episode.pk,
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


def _recorded(instance_id, kind):
    """The record of ``instance_id`` for its episodes route: closed and lost ones too."""
    parsed = parse_id(instance_id)
    instance = EnvInstance.objects.filter(pk=parsed).annotate(episode_count=Count("episodes")).first()
    if instance is None:
        raise InstanceNotFound(instance_id)
    if (instance.num_envs is not None) != (kind == VECTOR):
        raise WrongInstanceKind(instance.id, vector=kind == SINGLE)
    return instance


def episode_list(*, instance_id, limit):
    """A single instance's episodes, oldest first: the last ``limit`` of them.

    Read from the database, so closed and lost instances have theirs too. The
    running episode of a live instance shows its live counts, which the
    database has only every few seconds.
    """
    instance = _recorded(instance_id, SINGLE)
    episodes = list(instance.episodes.order_by("-number")[:limit])
    episodes.reverse()
    count = instance.episode_count
    live = runtime.get(instance.id, SINGLE)
    rows = [episode_row(episode) for episode in episodes]
    if live is not None:
        with ends_if_broken(live):
            running = recording.running_episode(live.instance_id, live.snapshot())
        if running is not None:
            if rows and rows[-1]["number"] == running.number:  # written by a periodic flush: its live counts
                rows[-1].update(steps=running.steps, **{"return": encode_float(running.total_reward)})
            elif limit:
                rows = (rows + [episode_row(running)])[-limit:]
                count += 1
            else:
                count += 1
    return {"instance_id": str(instance.id), "env_id": instance.env_id, "status": instance.status, "count": count,
            "episodes": rows}


def vector_episode_list(*, instance_id, limit, sub_env=None):
    """A vector instance's recorded episodes in the order they ended: the last ``limit``
    of them (of one sub-environment with ``sub_env``). Closed and lost instances keep theirs."""
    live = runtime.get(parse_id(instance_id), VECTOR)
    if live is not None:
        with live.lock, ends_if_broken(live):  # the episodes ended and not written yet are listed too
            if live.closed:
                rows = []
            elif live.remote:
                rows = live.call("take_rows")
            else:
                rows = recording.vector_taken(live)
        writer.write_blocking(rows)
    instance = _recorded(instance_id, VECTOR)
    episodes = instance.episodes.all()
    if sub_env is not None:
        if sub_env >= instance.num_envs:
            raise InvalidInput("sub_env", f"expected 0 to {instance.num_envs - 1}: this instance has {instance.num_envs}")
        episodes = episodes.filter(sub_env=sub_env)
    count = episodes.count() if sub_env is not None else instance.episode_count
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


# --- every recorded episode (/v1/episodes/) ----------------------------------------------

# The columns of the episode list (JSON results and CSV alike), in order.
EPISODE_COLUMNS = (
    "id", "instance_id", "env_id", "number", "sub_env", "seed", "steps", "return", "terminated", "truncated", "outcome",
    "started", "ended",
)
# The fields they are read from (not the blobs of the detail).
_LISTED = (
    "id", "instance", "number", "sub_env", "seed", "steps", "total_reward", "terminated", "truncated", "started_at",
    "ended_at",
)


def episode_queryset(*, caller=ANYONE):
    """Every recorded episode ``caller`` sees, newest first, without what only the detail shows."""
    return (
        Episode.objects.visible_to(caller)
        .select_related("instance")
        .only(*_LISTED, "instance__env_id")
        .order_by("-id")
    )



def episode_summary(episode):
    """One episode as the list shows it."""
    return {
        "id": episode.pk,
        "instance_id": str(episode.instance_id),
        "env_id": episode.instance.env_id,
        "number": episode.number,
        "sub_env": episode.sub_env,
        "seed": episode.seed,
        "steps": episode.steps,
        "return": encode_float(episode.total_reward),
        "terminated": episode.terminated,
        "truncated": episode.truncated,
        "outcome": episode.outcome,
        "started": episode.started_at,
        "ended": episode.ended_at,
    }


def episode_detail(*, episode_id, caller=ANYONE):
    """One episode with what replays it: its reset's options and its actions (JSON values),
    and why it cannot be replayed (null when nothing is known against it)."""
    episode = episode_get(episode_id=episode_id, caller=caller)
    refusal = replay_refusal(episode)
    return {
        **episode_summary(episode),
        "options": episode.options,
        "actions": None if episode.actions is None else actions_json(episode.actions),
        "unreplayable": None if refusal is None else {"code": refusal.get_codes(), "detail": str(refusal.detail)},
    }
