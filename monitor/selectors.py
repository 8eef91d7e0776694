"""Reads for the monitor: what watchers are shown when they arrive."""

import time

from gymapi_client.spaces import encode_float

from envs.access import ANYONE
from envs.models import EnvInstance
from envs.runtime import SINGLE, runtime


def instance_overview(*, caller=ANYONE):
    """Every active instance live in this process that ``caller`` sees, oldest first, with its current
    episode and how long it has been idle (seconds since its last reset, step, render or sample:
    what GYMAPI_IDLE_SECONDS counts)."""
    overview = []
    for instance in EnvInstance.objects.active().visible_to(caller).order_by("created_at"):
        live = runtime.get(instance.id, SINGLE)
        if live is None or live.closed:
            continue
        with live.lock:
            episode = {
                "episode": live.episode_number,
                "step": live.episode_steps,
                "return": encode_float(live.episode_return),
                "terminated": live.terminated,
                "truncated": live.truncated,
                "idle_seconds": round(max(time.monotonic() - live.last_used, 0.0), 1),
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
