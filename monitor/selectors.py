"""Reads for the monitor: what watchers are shown when they arrive."""

from gymapi_client.spaces import encode_float

from envs.access import ANYONE
from envs.models import EnvInstance
from envs.runtime import SINGLE, runtime
from envs.services.instances import ends_if_broken


def instance_overview(*, caller=ANYONE):
    """Every active instance live in this process that ``caller`` sees, oldest first, with its current
    episode and how long it has been idle (seconds since its last reset, step, render or sample:
    what GYMAPI_IDLE_SECONDS counts)."""
    overview = []
    for instance in EnvInstance.objects.active().visible_to(caller).order_by("created_at"):
        live = runtime.get(instance.id, SINGLE)
        if live is None or live.closed:
            continue
        try:
            with ends_if_broken(live):  # an actor found gone ends as broken, and is not shown
                state = live.snapshot()
        except Exception:  # noqa: BLE001 - one instance must not hide the others
            continue
        episode = {
            "episode": state["episode"],
            "step": state["steps"],
            "return": encode_float(state["return"]),
            "terminated": state["terminated"],
            "truncated": state["truncated"],
            "idle_seconds": round(max(state["idle_seconds"], 0.0), 1),
        }
        overview.append(
            {
                "instance_id": str(instance.id),
                "env_id": instance.env_id,
                "render_mode": instance.render_mode,
                "created": instance.created_at.isoformat(),
                **episode,
            }
        )
    return overview
