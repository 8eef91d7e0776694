"""What the server does to all its instances: at start-up, when they sit idle, at shutdown.

- ``instances_mark_lost``: at start-up, instances recorded active whose server
  process has ended are marked ``lost`` (their recorded episodes stay); those of
  another server still running on the same database are left alone.
- ``reap``: an instance untouched for ``GYMAPI_IDLE_SECONDS`` (no reset, step,
  render or sample) is closed and marked ``reaped``: its running episode is
  written as interrupted and its watchers are told, as for a close. In the
  server a ``Sweeper`` thread sweeps every ``GYMAPI_REAP_INTERVAL`` seconds;
  ``manage.py reap`` sweeps in its own process, where it does the database
  side (``instances_mark_lost``).
- ``instances_close_all``: at shutdown, every instance is closed as ``DELETE``
  would close it.
"""

import logging
import threading

from django.conf import settings
from django.db import connection, connections
from django.utils import timezone

from .. import processes
from ..errors import ApiError, InstanceGone
from ..models import EnvInstance, InstanceStatus
from ..runtime import runtime
from .instances import RAY_PROCESS, being_created, ends_if_broken, instance_close, instance_end

logger = logging.getLogger(__name__)


def instances_mark_lost(*, force=False, dry_run=False):
    """Mark lost the instances recorded active, not live here, whose server process
    (``EnvInstance.process``: host, pid, start time) ran on this host and has ended. Those of
    a process still running (another server on the same database), of another host, or with
    no process recorded are left alone; ``force`` marks them too (``manage.py mark_lost``,
    for when no server runs). Returns how many were (or, with ``dry_run``, would be) marked."""
    candidates = EnvInstance.objects.active().exclude(id__in=runtime.ids())
    if not force:
        gone = [instance.pk for instance in candidates.only("id", "process", "created_at") if _gone(instance)]
        candidates = EnvInstance.objects.active().filter(pk__in=gone)
    if dry_run:
        return candidates.count()
    return candidates.update(status=InstanceStatus.LOST, closed_at=timezone.now())


def _gone(instance):
    """Whether nothing holds ``instance`` any more: its server process ended, or, on the Ray
    runtime, its actor (not one still being made)."""
    if instance.process == RAY_PROCESS:
        return runtime.remote and not being_created(instance) and runtime.get(instance.pk) is None
    return bool(instance.process) and processes.is_gone(instance.process)


def every_live():
    """Every instance to look after: this process's; on the Ray runtime, the cluster's."""
    if not runtime.remote:
        return runtime.lives()
    found = (runtime.get(pk) for pk in EnvInstance.objects.active().values_list("pk", flat=True))
    return [live for live in found if live is not None]


def instances_close_all():
    """Close every live instance, single and vector, as ``DELETE`` would: each running
    episode is written (ended, as interrupted) and each instance marked closed. Returns
    how many were closed; one that fails to close is logged and the others still are."""
    closed = 0
    for live in every_live():
        try:
            instance_close(instance_id=live.instance_id, kind=live.kind)
        except InstanceGone:  # closed meanwhile by a request
            continue
        except Exception:
            logger.exception("Could not close %s", live.instance_id)
            continue
        closed += 1
    return closed


def reap(*, idle_seconds=None):
    """Close the live instances of this process untouched for ``idle_seconds`` (default
    ``GYMAPI_IDLE_SECONDS``; 0: none) as reaped. Instances whose environment broke and whose
    closing failed are closed as broken. Returns how many were reaped."""
    idle = settings.GYMAPI_IDLE_SECONDS if idle_seconds is None else idle_seconds
    reaped = 0
    for live in every_live():
        if live.closed or (live.broken is None and not idle):
            continue
        if not live.lock.acquire(blocking=False):  # in use right now, so not idle
            continue
        try:
            if live.broken is None:
                try:
                    with ends_if_broken(live):
                        untouched = live.idle_seconds()
                except ApiError:  # its actor was found gone: ended as broken just now
                    continue
            if live.broken is not None:
                instance_end(live, status=InstanceStatus.BROKEN, reason=live.broken)
            elif untouched >= idle:
                reason = f"untouched for more than {idle:g} s, GYMAPI_IDLE_SECONDS"
                reaped += instance_end(live, status=InstanceStatus.REAPED, reason=reason)
        except Exception:  # one that fails to close must not stop the sweep
            logger.exception("Could not reap %s", live.instance_id)
        finally:
            live.lock.release()
    return reaped


def sweep_idle():
    """One sweep for idle instances: ``reap()``, made by one front only on the Ray runtime."""
    if runtime.remote and not leading():
        return
    count = reap()
    if count:
        logger.info("Reaped %d idle instance(s).", count)


class Sweeper:
    """One of the server's sweepers: ``job`` (by default ``sweep_idle``) every ``interval``
    seconds in a daemon thread until ``stop()``."""

    def __init__(self, interval, job=sweep_idle):
        self.interval = interval
        self.job = job
        self.swept = threading.Event()  # set after each sweep (for tests)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sweeper {job.__name__}", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join()

    def _run(self):
        while not self._stop.wait(self.interval):
            try:
                self.job()
            except Exception:
                logger.exception("The sweep %s failed", self.job.__name__)
                connections.close_all()  # this thread's own, for a fresh one next time
            finally:
                if not runtime.remote:
                    connections.close_all()  # this thread's own
                self.swept.set()


# Held by the front that reaps on the Ray runtime (a PostgreSQL advisory lock; its key is
# arbitrary, fixed), for as long as its reaper's connection lives: one front reaps the
# cluster, and another takes over when that one's connection ends with it.
CLUSTER_REAPER = 7_231_002


def leading():
    """Whether this front's reaper holds the cluster's reaper lock (taking it when it is free)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [CLUSTER_REAPER])
        return cursor.fetchone()[0]
