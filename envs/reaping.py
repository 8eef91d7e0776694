"""Idle reaping (README, Limits): an instance untouched for ``GYMAPI_IDLE_SECONDS``
(no reset, step, render or sample) is closed and marked ``reaped``; its
running episode is written as interrupted and its watchers are told, as for a
close. Later calls on it are 410 ``instance_reaped``.

In the server a daemon thread (``start``, called once from gymapi/asgi.py)
sweeps every ``GYMAPI_REAP_INTERVAL`` seconds. ``manage.py reap`` sweeps in its
own process, where no environment lives when it is run from the command line:
there it does the database side, marking lost the instances recorded active
whose server process has ended (``mark_orphans``).
"""

import logging
import threading
import time

from django.conf import settings
from django.db import connections
from django.utils import timezone

from . import processes, services, vector
from .models import EnvInstance, InstanceStatus
from .runtime import LiveEnv, runtime

logger = logging.getLogger(__name__)


def reap(*, idle_seconds=None):
    """Close the live instances of this process untouched for ``idle_seconds``
    (default ``GYMAPI_IDLE_SECONDS``; 0: none) as reaped. Instances whose
    environment broke and whose closing failed are closed as broken. Returns
    how many were reaped."""
    idle = settings.GYMAPI_IDLE_SECONDS if idle_seconds is None else idle_seconds
    reaped = 0
    for live in runtime.lives():
        if live.closed or (live.broken is None and (not idle or time.monotonic() - live.last_used < idle)):
            continue
        if not live.lock.acquire(blocking=False):  # in use right now, so not idle
            continue
        try:
            end = services.instance_end if isinstance(live, LiveEnv) else vector.vector_end
            if live.broken is not None:
                end(live, status=InstanceStatus.BROKEN, reason=live.broken)
            elif time.monotonic() - live.last_used >= idle:  # not touched since it was picked
                reason = f"untouched for more than {idle:g} s, GYMAPI_IDLE_SECONDS"
                reaped += end(live, status=InstanceStatus.REAPED, reason=reason)
        except Exception:  # one that fails to close must not stop the sweep
            logger.exception("Could not reap %s", live.instance_id)
        finally:
            live.lock.release()
    return reaped


def mark_orphans(*, dry_run=False):
    """Mark lost the instances recorded active, not live here, whose server
    process (``EnvInstance.process``) ran on this host and has ended. Those of a
    process still running, of another host, or with no process recorded are
    left alone. Returns how many were (or, with ``dry_run``, would be) marked."""
    candidates = (
        EnvInstance.objects.active()
        .exclude(process="")
        .exclude(id__in=runtime.ids() + runtime.vector_ids())
        .values_list("id", "process")
    )
    gone = [pk for pk, process in candidates if processes.is_gone(process)]
    if dry_run or not gone:
        return len(gone)
    return EnvInstance.objects.active().filter(pk__in=gone).update(status=InstanceStatus.LOST, closed_at=timezone.now())


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


_reaper = None
_reaper_lock = threading.Lock()


def start():
    """Start the server's reaper, once per process (gymapi/asgi.py); returns it."""
    global _reaper
    with _reaper_lock:
        if _reaper is None:
            _reaper = Reaper(settings.GYMAPI_REAP_INTERVAL).start()
        return _reaper
