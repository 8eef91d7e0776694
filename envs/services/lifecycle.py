"""What the server does to all its instances: at start-up, when they sit idle, at shutdown.

- ``instances_mark_lost``: at start-up, instances recorded active whose server
  process has ended are marked ``lost`` (their recorded episodes stay); those of
  another server still running on the same database are left alone.
- ``reap``: an instance untouched for ``GYMAPI_IDLE_SECONDS`` (no reset, step,
  render or sample) is closed and marked ``reaped``: its running episode is
  written as interrupted and its watchers are told, as for a close. In the
  server a ``Reaper`` thread sweeps every ``GYMAPI_REAP_INTERVAL`` seconds;
  ``manage.py reap`` sweeps in its own process, where it does the database
  side (``instances_mark_lost``).
- ``instances_close_all``: at shutdown, every instance is closed as ``DELETE``
  would close it.
"""

import logging
import threading
import time

from django.conf import settings
from django.db import connections
from django.utils import timezone

from .. import processes
from ..errors import InstanceGone
from ..models import EnvInstance, InstanceStatus
from ..runtime import runtime
from .instances import instance_close, instance_end

logger = logging.getLogger(__name__)


def instances_mark_lost(*, force=False, dry_run=False):
    """Mark lost the instances recorded active, not live here, whose server process
    (``EnvInstance.process``: host, pid, start time) ran on this host and has ended. Those of
    a process still running (another server on the same database), of another host, or with
    no process recorded are left alone; ``force`` marks them too (``manage.py mark_lost``,
    for when no server runs). Returns how many were (or, with ``dry_run``, would be) marked."""
    candidates = EnvInstance.objects.active().exclude(id__in=runtime.ids())
    if not force:
        gone = [pk for pk, process in candidates.values_list("id", "process") if process and processes.is_gone(process)]
        candidates = EnvInstance.objects.active().filter(pk__in=gone)
    if dry_run:
        return candidates.count()
    return candidates.update(status=InstanceStatus.LOST, closed_at=timezone.now())


def instances_close_all():
    """Close every live instance, single and vector, as ``DELETE`` would: each running
    episode is written (ended, as interrupted) and each instance marked closed. Returns
    how many were closed; one that fails to close is logged and the others still are."""
    closed = 0
    for live in runtime.lives():
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
    for live in runtime.lives():
        if live.closed or (live.broken is None and (not idle or time.monotonic() - live.last_used < idle)):
            continue
        if not live.lock.acquire(blocking=False):  # in use right now, so not idle
            continue
        try:
            if live.broken is not None:
                instance_end(live, status=InstanceStatus.BROKEN, reason=live.broken)
            elif time.monotonic() - live.last_used >= idle:  # not touched since it was picked
                reason = f"untouched for more than {idle:g} s, GYMAPI_IDLE_SECONDS"
                reaped += instance_end(live, status=InstanceStatus.REAPED, reason=reason)
        except Exception:  # one that fails to close must not stop the sweep
            logger.exception("Could not reap %s", live.instance_id)
        finally:
            live.lock.release()
    return reaped


class Reaper:
    """The server's sweeper: ``reap()`` every ``interval`` seconds in a daemon thread until ``stop()``."""

    def __init__(self, interval):
        self.interval = interval
        self.swept = threading.Event()  # set after each sweep (for tests)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reaper", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join()

    def _run(self):
        while not self._stop.wait(self.interval):
            try:
                count = reap()
                if count:
                    logger.info("Reaped %d idle instance(s).", count)
            except Exception:
                logger.exception("The idle sweep failed")
            finally:
                connections.close_all()  # this thread's own
            self.swept.set()
