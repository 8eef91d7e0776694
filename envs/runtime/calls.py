"""Calls into environments, bounded by ``GYMAPI_CALL_TIMEOUT``.

A call made in a thread is handed to a thread of ``_CallThreads`` while its
caller waits at most that long; past it the call is abandoned where it runs
(``CallTimeout``), and the caller marks the instance broken. A call made on an
event loop's thread (http/dispatch.py runs cheap ones there) is made directly:
a loop cannot wait for a thread, and the hop would cost more than the call.
"""

import asyncio
import threading
import time

from django.conf import settings


class ActorGone(Exception):
    """A remote instance's process ended (the Ray runtime): services say how the instance ended."""


class CallTimeout(Exception):
    """A call ran past ``GYMAPI_CALL_TIMEOUT`` and was abandoned (it may still be running)."""


class _CallThread:
    """One thread of ``_CallThreads``: makes one call at a time, handed over through locks."""

    def __init__(self, pool):
        self._pool = pool
        self._job = None
        self._start = threading.Lock()
        self._start.acquire()
        threading.Thread(target=self._run, name="env-call", daemon=True).start()

    def call(self, timeout, function, args, kwargs):
        done = threading.Lock()  # one per call: a call abandoned and finishing late releases its own
        done.acquire()
        job = self._job = [function, args, kwargs, done, None, None, 0.0]
        self._start.release()
        if not done.acquire(timeout=timeout):
            raise CallTimeout
        _hops.called = job[6]  # the call's own seconds, in the call thread
        if job[5] is not None:
            raise job[5]
        return job[4]

    def _run(self):
        while True:
            self._start.acquire()
            job, self._job = self._job, None
            function, args, kwargs, done = job[:4]
            began = time.perf_counter()
            try:
                job[4] = function(*args, **kwargs)
            except BaseException as error:  # handed to the caller, who raises it
                job[5] = error
            job[6] = time.perf_counter() - began
            del function, args, kwargs
            self._pool.idle(self)  # before the caller wakes, so its next call finds this thread
            done.release()


class _CallThreads:
    """The threads that make calls into environments for callers waiting at most a timeout.

    A thread is taken for each call and given back when the call returns; one
    whose call was abandoned is given back only if that call ever returns, so
    a hung environment costs one thread and nothing else. The pool grows to
    the number of calls made at once.
    """

    def __init__(self):
        self._idle = []
        self._lock = threading.Lock()

    def call(self, timeout, function, args, kwargs):
        began = time.perf_counter()
        _hops.called = 0.0
        try:
            with self._lock:
                thread = self._idle.pop() if self._idle else None
            if thread is None:
                thread = _CallThread(self)
            return thread.call(timeout, function, args, kwargs)
        finally:  # what the call took beyond its own seconds: the hand-off, there and back
            _hops.seconds = getattr(_hops, "seconds", 0.0) + time.perf_counter() - began - _hops.called

    def idle(self, thread):
        with self._lock:
            self._idle.append(thread)


_call_threads = _CallThreads()
_running_loop = asyncio._get_running_loop  # None off an event loop's thread; a C call


# Per calling thread: the seconds its calls spent being handed to a call thread and back.
_hops = threading.local()


def hop_seconds():
    """Seconds this thread's calls spent being handed to call threads and back (not in the
    calls themselves) since it last asked: what the same calls would not cost on the event
    loop, where they are made directly (http/dispatch.py measures what a call would cost there)."""
    spent = getattr(_hops, "seconds", 0.0)
    _hops.seconds = 0.0
    return spent


def run_bounded(function, *args, **kwargs):
    """``function(*args, **kwargs)``, abandoned past ``GYMAPI_CALL_TIMEOUT`` (``CallTimeout``).

    Made directly on an event loop's thread and when the timeout is 0;
    otherwise in a thread of ``_CallThreads``.
    """
    if _running_loop() is not None:  # checked first: the loop's calls are the cheap, hot ones
        return function(*args, **kwargs)
    timeout = settings.GYMAPI_CALL_TIMEOUT
    if not timeout:
        return function(*args, **kwargs)
    return _call_threads.call(timeout, function, args, kwargs)
