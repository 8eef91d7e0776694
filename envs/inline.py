"""Steps and resets answered on the event loop itself, when that is safe and cheap.

Handing a call to a worker thread and back costs more than a CartPole step
and its encoding together (about 135 us against 30 us per message, measured
in-process: README, Performance). So the two hot ways in, the REST fast path
(envs/fastpath.py) and the step sockets (envs/step_socket.py), first try to
answer here, on the loop, and hand the call to a thread only when one of
these holds:

- the instance is not live in this process (its 404/410 reads the database),
  or belongs to another key than the caller's (its 404 is worded there);
- its lock is held by another thread (a watcher drawing a frame, another
  client): the loop never waits for a lock;
- its running episode's counts are due for their periodic write;
- it has not been called yet: its first call, which may be slow or may
  hang, is made in a thread;
- ``GYMAPI_INLINE`` is off (for environments that may hang: a call made on
  the loop cannot be abandoned, one in a thread can);
- its steps and resets take longer than ``SLOW_SECONDS`` here, on a moving
  average (a MuJoCo or Atari environment, a big observation to encode): its
  calls go to threads, so that one slow environment does not hold up the
  loop that serves every other client. One call in ``RETRY_EVERY`` is still
  tried here, so an instance whose calls got cheaper comes back.

A call made here cannot be abandoned if its environment hangs
(``GYMAPI_CALL_TIMEOUT`` bounds calls made in threads only). An environment
that raises here is broken all the same: the error carries, as its ``write``,
the closing of the instance as broken, made in a thread before the answer.

The environment is still used by one thread at a time: the loop takes the
instance's lock like any thread. Nothing here touches the database (Django
would refuse it on the loop): an episode row that a step or reset decides to
write comes back as a function, made in a thread before the answer is sent.
"""

import functools
import time
import weakref

from django.conf import settings

from . import recording, services
from . import vector as vectors
from .access import ANYONE
from .errors import EnvBroken
from .models import InstanceStatus
from .runtime import runtime
from .serializers import ResetRequest

SLOW_SECONDS = 0.001
RETRY_EVERY = 64
# How much the last call weighs in the moving average: a single stall (a
# collection, the scheduler) does not send an instance to threads.
WEIGHT = 0.1


class _Cost:
    __slots__ = ("seconds", "skipped")

    def __init__(self):
        self.seconds = None  # the first call's cost, then the moving average
        self.skipped = 0


# Per live instance, forgotten with it.
_costs = weakref.WeakKeyDictionary()


def arguments(what, fields):
    """The service arguments of a well-formed step or reset body (a dict, or None when
    empty), else None: the call then goes to a thread, which words the error."""
    if what == "step":
        if type(fields) is dict and fields.get("action") is not None:
            return {"action": fields["action"]}
        return None
    if not fields and (fields is None or type(fields) is dict):  # a bare reset, the common one, needs no serializer
        return {}
    serializer = ResetRequest(data=fields)
    return serializer.validated_data if serializer.is_valid() else None


def call(what, instance_id, *, caller=ANYONE, vector=False, **arguments):
    """Run ``what`` ("step" or "reset") of ``services`` (of ``vector`` for a vector
    instance) on the loop, for ``caller`` (an ``access.Caller``).

    Returns ``(body, write)`` as ``services.step_locked`` does, or None when
    the call must go to a thread instead (and nothing was done). An error of
    the call itself (a wrong action, a reset needed) is raised, as the
    service would.
    """
    if not settings.GYMAPI_INLINE:
        return None
    live = runtime.get_vector(instance_id) if vector else runtime.get(instance_id)
    if live is None or live.closed or live.broken is not None or not caller.owns(live):
        return None
    cost = _costs.get(live)
    if cost is None:
        _costs[live] = _Cost()
        return None
    if cost.seconds is not None and cost.seconds > SLOW_SECONDS:
        cost.skipped += 1
        if cost.skipped % RETRY_EVERY:
            return None
    if not live.lock.acquire(blocking=False):
        return None
    try:
        if live.closed or (what == "step" and not vector and recording.flush_due(live)):
            return None
        module = vectors if vector else services
        started = time.perf_counter()
        try:
            if what == "step":
                return module.step_locked(live, **arguments)
            return module.reset_locked(live, **arguments)
        except EnvBroken as error:  # to be closed as broken, in a thread, before the error goes out
            end = vectors.vector_end if vector else services.instance_end
            error.write = functools.partial(end, live, status=InstanceStatus.BROKEN, reason=live.broken)
            raise
        finally:
            seconds = time.perf_counter() - started
            cost.seconds = seconds if cost.seconds is None else cost.seconds + WEIGHT * (seconds - cost.seconds)
    finally:
        live.lock.release()


def is_slow(instance_id):
    """Whether calls on ``instance_id`` go to threads for their cost (for tests and logs)."""
    live = runtime.get(instance_id)
    cost = _costs.get(live) if live is not None else None
    return cost is not None and cost.seconds is not None and cost.seconds > SLOW_SECONDS
