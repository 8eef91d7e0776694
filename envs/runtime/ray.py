"""The Ray runtime (``GYMAPI_RUNTIME=ray``): each instance a Ray actor, found by any front.

Every instance, single or vector, lives in an actor of the class the server
gives at start-up (``envs.actors.InstanceActor``), named by its instance id in
the ``gymapi`` namespace and detached: any front of the cluster finds it by
name, and it outlives the front that created it. Ray places, schedules and
watches the actors; this module only names them and forwards calls.

A front sees an instance as a ``RemoteLive``: what never changes (its kind,
env id, spaces, spec, owner) is read once, and every call goes to the actor,
which runs it on the live environment it holds, one call at a time. Calls
from the event loop are awaited (``await actor.method.remote(...)``), never
made in a thread; the others wait for their answer in the thread of their
request. Ray's own failures become the API's: an actor whose process died is
an environment that broke, a call past ``GYMAPI_CALL_TIMEOUT`` one that hung,
an unreachable cluster a 503.
"""

import asyncio
import logging
import os
import socket
import threading
import time
from pathlib import Path

import ray
from django.conf import settings
from ray import exceptions as ray_errors

from ..errors import ClusterFull, EnvTimeout, Relayed, RuntimeUnavailable
from .calls import ActorGone

logger = logging.getLogger(__name__)

NAMESPACE = "gymapi"
BASE_DIR = Path(__file__).resolve().parent.parent.parent
# What an actor's process inherits of a front's environment: the settings that shape
# an environment, its episodes and its frames. Actors hold local environments.
FORWARDED = ("MUJOCO_GL", "PYOPENGL_PLATFORM", "SDL_VIDEODRIVER", "SDL_AUDIODRIVER", "LOG_LEVEL")
# Ray's errors that mean the cluster cannot be reached (its head gone, say).
UNREACHABLE = (ray_errors.RaySystemError, ray_errors.GetTimeoutError, ConnectionError)
# How long a creation the cluster has no room for waits for CPUs that closed actors are giving back.
RELEASE_SECONDS = 3.0


def actor_environment():
    """The environment variables an actor runs with: the front's GYMAPI_* settings (its runtime
    a local one), the rendering backends, and where this code lives."""
    env = {name: value for name, value in os.environ.items() if name.startswith("GYMAPI_") or name in FORWARDED}
    # A database of none: an actor never writes one (its front does), and must not write another.
    env.update(GYMAPI_RUNTIME="local", DJANGO_SETTINGS_MODULE="gymapi.settings", DATABASE_URL="sqlite://:memory:")
    env.pop("GYMAPI_WRITER", None)  # how a front writes its rows; an in-memory database takes no other than the default
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BASE_DIR), os.environ.get("PYTHONPATH")]))
    return env


class RemoteLive:
    """A live instance held by an actor of the cluster, as a front sees it."""

    remote = True

    def __init__(self, instance_id, actor, static, cluster):
        self.instance_id = instance_id
        self.actor = actor
        self.cluster = cluster  # the RayRuntime that found it
        self.lock = threading.RLock()  # this front's own calls in order; the actor orders everyone's
        self.closed = False
        self.broken = None
        self.step_cost = self.reset_cost = None  # on Ray every call is awaited: nothing is measured for the loop
        self.viewer_frame = None  # the last frame its actor sent (rendering.py)
        for name, value in static.items():  # kind, env_id, owner_id, spaces, spec, metadata, ...
            setattr(self, name, value)

    async def perform(self, name, arguments, encoding):
        """Run a hot operation (``"step"``, ``"reset"``) in the actor: ``(body, rows, error, broken)``."""
        self.cluster.check_head()
        try:
            return await asyncio.wait_for(
                self.actor.perform.remote(name, arguments, encoding), timeout=_call_timeout()
            )
        except (asyncio.TimeoutError, ray_errors.GetTimeoutError):
            raise self._timed_out(name) from None
        except ray_errors.RayActorError as error:
            raise self._died(error) from None
        except UNREACHABLE as error:
            raise RuntimeUnavailable(f"the Ray cluster could not be reached: {error}") from error

    def call(self, method, *args):
        """``method`` of the actor, waited for in this thread (not on an event loop)."""
        self.cluster.check_head()
        try:
            return ray.get(getattr(self.actor, method).remote(*args), timeout=_call_timeout())
        except ray_errors.GetTimeoutError:
            raise self._timed_out(method) from None
        except ray_errors.RayActorError as error:
            raise self._died(error) from None
        except UNREACHABLE as error:
            raise RuntimeUnavailable(f"the Ray cluster could not be reached: {error}") from error

    def _timed_out(self, what):
        self.broken = f"{self.env_id} did not return from {what} within {settings.GYMAPI_CALL_TIMEOUT:g} s (GYMAPI_CALL_TIMEOUT)"
        return EnvTimeout(f"{self.broken}: the call was abandoned and the instance is broken and closed.")

    def _died(self, error):
        if not self.cluster.head_answers:  # its head is gone: the actors may be too, or come back
            return RuntimeUnavailable(f"the Ray cluster at {self.cluster.address} does not answer")
        cause = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        self.broken = f"{self.env_id}'s Ray worker process ended ({cause[:300]})"
        return ActorGone(self.broken)

    def relayed(self, method, *args):
        """``call`` of a method answering ``(result, error, broken)`` (``envs.hosting``): the result,
        or its error raised as the actor shaped it, the instance marked broken when it broke."""
        result, error, broken = self.call(method, *args)
        if error is None:
            return result
        if broken is not None:
            self.broken = broken
        raise Relayed(*error)

    def snapshot(self):
        return self.call("snapshot")

    def idle_seconds(self):
        return self.snapshot()["idle_seconds"]

    def sample_action(self):
        return self.call("sample_action")

    def close(self):
        """Stop the actor (its environment goes with its process)."""
        self.closed = True
        try:
            ray.kill(self.actor, no_restart=True)
        except (ValueError, *UNREACHABLE):  # gone already, or the cluster with it
            pass


def _free_cpus(wanted, grace=RELEASE_SECONDS):
    """The CPUs free in the cluster, waited for up to ``grace`` seconds while fewer than ``wanted``
    are and the cluster holds that many: an actor just stopped gives its CPUs back to Ray's count
    a moment after ``ray.kill`` returns, and a creation right after a close must find them."""
    deadline = time.monotonic() + grace
    while True:
        free = ray.available_resources().get("CPU", 0.0)
        if free + 1e-9 >= wanted or time.monotonic() >= deadline:
            return free
        if ray.cluster_resources().get("CPU", 0.0) + 1e-9 < wanted:  # no wait gives room that is not there
            return free
        time.sleep(0.1)


def _call_timeout():
    return settings.GYMAPI_CALL_TIMEOUT or None


class RayRuntime:
    """The table of the instances this front has met, each an actor of the cluster."""

    remote = True

    def __init__(self):
        self.actor_class = None
        self.address = None
        self.head_answers = True  # as last seen by watch_head()
        self._lives = {}
        self._lock = threading.Lock()

    def connect(self, actor_class):
        """Join the cluster at RAY_ADDRESS (a local one of its own when unset), waiting, and saying
        so, while it cannot be reached; ``actor_class`` is what instances are made of."""
        self.actor_class = actor_class
        address = os.getenv("RAY_ADDRESS") or None
        self.address = address
        while address and ":" in address and "://" not in address and not self.reachable():
            # ray.init would retry for a minute, saying nothing a reader of this log needs.
            logger.warning("Waiting for the Ray cluster at %s, which does not answer; trying again in 5 s.", address)
            time.sleep(5)
        ray.init(address=address, namespace=NAMESPACE, ignore_reinit_error=True, log_to_driver=False,
                 include_dashboard=False, configure_logging=False)
        self.address = ray.get_runtime_context().gcs_address

    async def watch_head(self, every=1.0):
        """Look at the cluster's head every ``every`` seconds, for as long as the front runs:
        while it does not answer, instances are a 503 (their actors may live on, or not:
        nothing is decided for them until it is back)."""
        while True:
            answers = await asyncio.to_thread(self.reachable)
            if answers != self.head_answers:
                log = logger.info if answers else logger.error
                log("The Ray cluster's head at %s %s.", self.address, "answers again" if answers else "does not answer")
            self.head_answers = answers
            await asyncio.sleep(every)

    def check_head(self):
        """A 503 while the cluster's head does not answer."""
        if not self.head_answers:
            raise RuntimeUnavailable(f"the Ray cluster's head at {self.address} does not answer")

    def reachable(self):
        """Whether the cluster's head answers (a connection to its GCS, within a second)."""
        host, _, port = (self.address or "").rpartition(":")
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
        except (OSError, ValueError):
            return False
        return True

    def create(self, instance_id, creation):
        """Start the actor of ``instance_id`` and wait until its environment is built: a ``RemoteLive``.
        A creation the environment refused raises its error (relayed), with no actor left behind."""
        num_cpus = creation.num_cpus or settings.GYMAPI_RAY_NUM_CPUS
        # An actor no node can place waits in Ray's queue: the client would wait out the call
        # timeout for a 504 that blames the environment. Concurrent creations may still race
        # past this look; the loser waits for a place as Ray's queue decides.
        free = _free_cpus(num_cpus)
        if free + 1e-9 < num_cpus:
            raise ClusterFull(num_cpus, free)
        actor = self.actor_class.options(
            name=str(instance_id), namespace=NAMESPACE, lifetime="detached", num_cpus=num_cpus, max_restarts=0,
            runtime_env={"env_vars": actor_environment()},
        ).remote(str(instance_id), creation)
        live = RemoteLive(str(instance_id), actor, {"env_id": creation.env_id, "kind": creation.kind}, self)
        try:
            static = live.call("describe")
        except BaseException:
            live.close()
            raise
        if "error" in static:  # the environment could not be built: said as the local runtime says it
            live.close()
            raise Relayed(*static["error"])
        live = RemoteLive(str(instance_id), actor, static, self)
        with self._lock:
            self._lives[live.instance_id] = live
        return live

    def get(self, instance_id, kind=None):
        """The instance ``instance_id`` (of ``kind``, when given) this front has met, else its actor
        found by name in the cluster; None when there is none. Looking up blocks: not on the loop."""
        live = self.cached(instance_id)
        if live is None and not _on_event_loop():
            live = self._find(str(instance_id))
        if live is None or (kind is not None and live.kind != kind):
            return None
        return live

    def cached(self, instance_id):
        """The instance if this front has met it (no cluster lookup: safe on the event loop)."""
        return self._lives.get(str(instance_id))

    def _find(self, instance_id):
        try:
            actor = ray.get_actor(instance_id, namespace=NAMESPACE)
        except ValueError:  # no actor of that name: an id of nothing, or an instance that ended
            return None
        except UNREACHABLE as error:
            raise RuntimeUnavailable(f"the Ray cluster could not be reached: {error}") from error
        live = RemoteLive(instance_id, actor, {"env_id": "?", "kind": None}, self)
        try:
            static = live.call("describe")
        except (ActorGone, EnvTimeout):  # it died meanwhile
            return None
        live = RemoteLive(instance_id, actor, static, self)
        with self._lock:
            self._lives[instance_id] = live
        return live

    def remove(self, instance_id):
        """Stop the actor of ``instance_id`` and forget it. Returns it, or None."""
        with self._lock:
            live = self._lives.pop(str(instance_id), None)
        if live is None and not _on_event_loop():
            live = self._find(str(instance_id))
            with self._lock:
                self._lives.pop(str(instance_id), None)
        if live is not None:
            live.close()
        return live

    def forget(self, instance_id):
        """Drop this front's handle of ``instance_id`` (another front ended it)."""
        with self._lock:
            self._lives.pop(str(instance_id), None)

    def lives(self, kind=None):
        """The instances this front has met (every front meets those of the cluster it is asked for)."""
        with self._lock:
            return [live for live in self._lives.values() if kind is None or live.kind == kind]

    def ids(self, kind=None):
        return [live.instance_id for live in self.lives(kind)]

    def close_all(self):
        """A front's shutdown leaves the actors to the cluster: it forgets its handles only."""
        with self._lock:
            self._lives.clear()


def _on_event_loop():
    return asyncio._get_running_loop() is not None


