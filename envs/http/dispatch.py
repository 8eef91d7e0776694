"""The hot operations, step and reset of single and vector instances, in one table.

Every transport turns a request into one call here and the outcome into its
wire format: the DRF actions and legacy mode call ``call`` in their request's
thread; the fast path and the step sockets await ``answer`` on the event loop,
which runs ``call`` in a thread unless the call may run on the loop itself.

Which calls run on the loop. Handing a call to a thread and back costs more
than a cheap step and its encoding together (README, Performance), so a call
runs on the loop when that same operation of that instance was measured cheap
(under ``SLOW_SECONDS``, a moving average) in a thread first, and keeps being
cheap; and its lock is free (the loop never waits for a lock), and
``GYMAPI_INLINE`` is on. Everything else runs in a thread, where
``GYMAPI_CALL_TIMEOUT`` can abandon it: a call on the loop cannot be abandoned,
so an operation never measured, or measured slow (a MuJoCo or Atari step, a
large observation to encode), never runs there.

The database is never touched on the loop: the rows an operation decides are
written by the writer (recording/writer.py) before the answer goes out, and an
environment that broke on the loop is ended, as broken, in a thread.
"""

import asyncio
import functools
import time
from typing import NamedTuple

from django.db import connections
from gymapi_client.spaces import encode_any

from .. import access, binary, events
from ..conf import hot
from ..errors import DatabaseUnavailable, EnvBroken, EnvTimeout, Relayed
from ..recording.writer import writer
from ..runtime import SINGLE, VECTOR, ActorGone, runtime
from ..runtime.calls import hop_seconds
from ..serializers import ResetRequest, StepRequest, VectorStepRequest
from ..services import episodes
from ..services.instances import actor_gone, end_broken, ends_if_broken, instance_get

# How the values of a body are spelled, by the encoder a transport asks for: the name travels to a
# Ray actor, which encodes there.
ENCODINGS = {encode_any: "json", binary.encode_value: "msgpack"}

SLOW_SECONDS = 0.001
# Reading and decoding a body costs what its sender chose to send: one larger than this is read
# in a thread whatever its instance's steps cost (an action of a few numbers is a few dozen bytes).
LOOP_BODY_BYTES = 64 * 1024
# How much the last call weighs in the moving average: a single stall (a
# collection, the scheduler) does not send an operation to threads.
WEIGHT = 0.1


class Operation(NamedTuple):
    kind: str  # SINGLE or VECTOR
    name: str  # "step" or "reset"
    request: type  # the serializer of its body
    service: object  # episodes.step or episodes.reset: (live, encode=, **arguments) -> (body, rows)


STEP = Operation(SINGLE, "step", StepRequest, episodes.step)
RESET = Operation(SINGLE, "reset", ResetRequest, episodes.reset)
VECTOR_STEP = Operation(VECTOR, "step", VectorStepRequest, episodes.step)
VECTOR_RESET = Operation(VECTOR, "reset", ResetRequest, episodes.reset)
OPERATIONS = {(op.kind, op.name): op for op in (STEP, RESET, VECTOR_STEP, VECTOR_RESET)}


class Outcome(NamedTuple):
    """What an operation came to: its body, or its error; on the loop, also what is
    left to do before answering (rows to write, an instance to end as broken)."""

    body: dict | None
    error: Exception | None = None
    rows: list = []
    broken: object = None  # the live instance to end as broken

    def result(self):
        """The body, or the error raised (for DRF views, whose handler shapes it)."""
        if self.error is not None:
            raise self.error
        return self.body


def arguments(operation, data):
    """The service arguments of a parsed body (None when empty); raises the body's
    ``ValidationError``. Building a serializer costs a good share of a cheap step, so the
    common bodies are read directly and the serializer runs to word the errors."""
    if operation.name == "step":
        if type(data) is dict and data.get("action") is not None:
            return {"action": data["action"]}
    elif not data and (data is None or type(data) is dict):
        return {}
    serializer = operation.request(data=data if data is not None else {})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def call(operation, instance_id, data, *, caller=access.ANYONE, encode=encode_any):
    """Run ``operation`` on ``instance_id`` in this thread, its rows written: an ``Outcome``."""
    try:
        if writer.refusing:
            raise DatabaseUnavailable()
        access.check_instance(caller, instance_id)  # another key's instance: the 404 of an unknown id
        given = arguments(operation, data)
        live = instance_get(instance_id, operation.kind)
        if live.covered and writer.backlog:
            # At rest, its rows say so: its next answer must be written as not covered first (README, Restarts).
            raise DatabaseUnavailable()
        with live.lock, ends_if_broken(live):
            if live.remote:  # made by its actor, waited for in this thread
                body, rows, error, broken = live.call("perform", operation.name, given, ENCODINGS[encode])
                if error is not None:
                    live.broken = broken
                    raise Relayed(*error)
            else:
                hop_seconds()  # from zero: only this call's hops are taken off its cost
                started = time.perf_counter()
                try:
                    body, rows = operation.service(live, encode=encode, **given)
                finally:
                    _measured(live, operation.name, started, hop_seconds())
        writer.write_blocking(rows)
        if live.remote:
            _tell_watchers(live, rows)
        return Outcome(body)
    except Exception as error:  # every transport shapes it (errors.py)
        return Outcome(None, error)


def call_in_worker(operation, instance_id, data, *, caller=access.ANYONE, encode=encode_any):
    """``call`` from a thread that lives as long as the server (the fast path's workers, a
    step socket's), keeping its database connection between calls (``release_connections``)."""
    try:
        return call(operation, instance_id, data, caller=caller, encode=encode)
    finally:
        release_connections()


def release_connections():
    """Django's request_finished and request_started for a long-lived worker thread.

    Unlike Django's own request threads, such a worker keeps its connection open
    between calls instead of connecting and closing around every one; a
    connection that broke, or was left in a transaction, is closed, and the next
    call opens a fresh one. Any other is checked before the next call's first
    query (``CONN_HEALTH_CHECKS``): a database restarted meanwhile costs no error.
    """
    for connection in connections.all(initialized_only=True):
        if connection.connection is None:
            continue
        if connection.in_atomic_block or not connection.get_autocommit():
            connection.close()
        elif connection.errors_occurred:
            if connection.is_usable():
                connection.errors_occurred = False
            else:
                connection.close()
        connection.health_check_done = False


def call_on_loop(operation, instance_id, data, *, caller=access.ANYONE, encode=encode_any):
    """``call`` on the event loop when the rules above allow it, else None (and nothing was done)."""
    if not hot.GYMAPI_INLINE:
        return None
    live = runtime.get(instance_id, operation.kind)
    if (live is None or live.closed or live.broken is not None or not caller.owns(live) or writer.refusing
            or (live.covered and writer.backlog)):
        return None  # a thread words the 404, 410 or 503
    cost = _cost(live, operation.name)
    if cost is None or cost > SLOW_SECONDS:
        return None
    try:
        given = arguments(operation, data)
    except Exception as error:
        return Outcome(None, error)
    if not live.lock.acquire(blocking=False):
        return None
    try:
        if live.closed:
            return None
        started = time.perf_counter()
        try:
            body, rows = operation.service(live, encode=encode, **given)
        except (EnvBroken, EnvTimeout) as error:
            return Outcome(None, error, broken=live)
        except Exception as error:
            return Outcome(None, error)
        finally:
            _measured(live, operation.name, started)
        return Outcome(body, rows=rows)
    finally:
        live.lock.release()


async def answer(operation, instance_id, data, *, caller=access.ANYONE, encode=encode_any, executor=None,
                 in_thread=call):
    """``operation`` answered from the event loop: on the loop when allowed, else by ``in_thread``
    (``call``, or the transport's wrapper of it) in a thread of ``executor``; its rows written
    (and an instance that broke ended) before it returns."""
    if runtime.remote:
        return await _answer_remote(operation, instance_id, data, caller, encode, executor, asyncio.get_running_loop())
    outcome = call_on_loop(operation, instance_id, data, caller=caller, encode=encode)
    # The loop is asked for only where a thread is needed: asking costs a system call (getpid).
    if outcome is None:
        run = functools.partial(in_thread, operation, instance_id, data, caller=caller, encode=encode)
        return await asyncio.get_running_loop().run_in_executor(executor, run)
    if outcome.broken is not None:
        await asyncio.get_running_loop().run_in_executor(executor, end_broken, outcome.broken)
    elif outcome.rows:
        try:
            await writer.write(outcome.rows)
        except Exception as error:  # the database refused the row: the answer says so
            return Outcome(None, error)
    return outcome


async def _answer_remote(operation, instance_id, data, caller, encode, executor, loop):
    """``answer`` on the Ray runtime: the call awaited on the loop, made by the instance's actor;
    the actor found, and the caller checked, in a thread the first time this front meets it."""
    live = None
    try:
        if writer.refusing:
            raise DatabaseUnavailable()
        live = runtime.cached(instance_id)
        if live is None or live.closed or live.broken is not None or not caller.owns(live):
            live = await loop.run_in_executor(executor, _met, operation, instance_id, caller)
        given = arguments(operation, data)
        body, rows = await _relayed(live, await live.perform(operation.name, given, ENCODINGS[encode]), loop, executor)
        await writer.write(rows)
        _tell_watchers(live, rows)
        return Outcome(body)
    except ActorGone:
        return Outcome(None, await loop.run_in_executor(executor, actor_gone, live))
    except EnvTimeout as error:  # its actor hung: the instance is broken, ended as the threads end it
        await loop.run_in_executor(executor, end_broken, live)
        return Outcome(None, error)
    except Exception as error:  # every transport shapes it (errors.py)
        return Outcome(None, error)


def _tell_watchers(live, rows):
    # An actor publishes nothing (its process has no channel layer): the front that wrote the
    # rows says which episodes ended.
    for row in rows:
        events.episode_row_finished(live, row)


def _met(operation, instance_id, caller):
    """The instance, found (and the caller checked) as ``call`` finds it, in a thread."""
    try:
        access.check_instance(caller, instance_id)
        return instance_get(instance_id, operation.kind)
    finally:
        release_connections()


async def _relayed(live, performed, loop, executor):
    """``(body, rows)`` of what an actor performed, or its error raised; an instance whose
    environment broke in its actor is ended as broken (in a thread) before."""
    body, rows, error, broken = performed
    if error is None:
        return body, rows
    if broken is not None:
        live.broken = broken
        await loop.run_in_executor(executor, end_broken, live)
    raise Relayed(*error)


def _measured(live, name, started, hops=0.0):
    """Add a call to ``live``'s cost of ``name``: what it took from ``started``, but for its
    ``hops`` (made in a thread, the call into the environment was handed to a call thread
    and back, which it would not be on the loop: under load that hand-off alone took more
    than SLOW_SECONDS and kept cheap calls off the loop)."""
    seconds = time.perf_counter() - started - hops
    cost = _cost(live, name)
    cost = seconds if cost is None else cost + WEIGHT * (seconds - cost)
    if name == "step":
        live.step_cost = cost
    else:
        live.reset_cost = cost


def _cost(live, name):
    """``live``'s cost of ``name`` calls: None until measured, then a moving average of seconds."""
    return live.step_cost if name == "step" else live.reset_cost


def is_slow(instance_id, name="step"):
    """Whether ``name`` calls of ``instance_id`` run in threads for their cost (for tests and logs)."""
    live = runtime.get(instance_id)
    cost = _cost(live, name) if live is not None else None
    return cost is None or cost > SLOW_SECONDS
