"""Start-up and shutdown of the server, behind the ASGI lifespan (gymapi/asgi.py).

``python -m gymapi.serve`` (``make run``, the Dockerfile, the tests' servers) and
``manage.py runserver`` both serve through uvicorn with the lifespan on, so both
start and stop the same way:

- start-up, before the first request is taken: the instances a previous
  server process of this host suspended, or left active when it died, are
  rebuilt under their ids, or marked lost when they cannot be (README,
  Restarts); the episode writer starts (``GYMAPI_WRITER``); the sweepers
  start (idle instances reaped, instances at rest checkpointed); everything
  imported so far is frozen out of the cyclic garbage collector's sight;
- shutdown, once the requests in flight are answered: the sweepers stop;
  every instance is suspended (``GYMAPI_RESUME``) or closed (its running
  episode written as interrupted); the writer writes what it holds and stops.

Nothing is started on import: code that imports the application without
serving it (tests, management commands) starts nothing.
"""

import asyncio
import gc
import logging

from django.conf import settings
from django.db import DatabaseError, connections

from envs import events, rendering
from envs.recording.writer import writer
from envs.runtime import runtime
from envs.services import lifecycle, resume

logger = logging.getLogger("gymapi")

_sweepers = []
_tasks = []  # what runs beside the requests until the shutdown


async def lifespan(scope, receive, send):
    """ASGI application of the ``lifespan`` scope: ``startup`` and ``shutdown`` answered (the
    router gives it that scope only, so that no request passes through one more call)."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                await startup()
            except Exception as error:  # the server refuses to start, and says why
                logger.exception("Start-up failed")
                await send({"type": "lifespan.startup.failed", "message": str(error)})
                return
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await shutdown()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def startup():
    """Everything the server does before it takes its first request."""
    loop = asyncio.get_running_loop()
    events.watchers.loop = loop  # events of other threads are handed to it
    if runtime.remote:
        # Waits, and says so, while the cluster cannot be reached. Imported here: the
        # local runtime never imports Ray.
        from envs.actors import InstanceActor

        await loop.run_in_executor(None, runtime.connect, InstanceActor)
        events.watchers.everywhere = True  # the watchers of its instances may be another front's
        _tasks.append(loop.create_task(runtime.watch_head()))
    # In a thread: Django refuses synchronous database calls on the event loop.
    await loop.run_in_executor(None, _resume)
    await loop.run_in_executor(None, _mark_lost)
    await writer.start(settings.GYMAPI_WRITER)
    # Instances untouched for GYMAPI_IDLE_SECONDS are closed as reaped.
    _sweepers.append(lifecycle.Sweeper(settings.GYMAPI_REAP_INTERVAL).start())
    if settings.GYMAPI_RESUME and not runtime.remote:
        # Instances at rest get rows that cover every answer they gave, for a crash.
        _sweepers.append(lifecycle.Sweeper(max(settings.GYMAPI_FLUSH_SECONDS, 0.01), resume.checkpoint).start())
    # Everything imported so far (Django, Gymnasium, numpy, the apps) lives as long
    # as the process: out of the cyclic collector's sight, a full collection walks
    # far less (encoding an image observation as JSON builds tens of thousands of
    # lists, which triggers them).
    gc.freeze()


def stopping():
    """The server stops taking requests: end what would hold its wait for the requests
    in flight (MJPEG streams run until their instance closes)."""
    rendering.streams_end()


async def shutdown():
    """Everything the server does once the requests in flight are answered."""
    stopping()
    loop = asyncio.get_running_loop()
    while _sweepers:
        await loop.run_in_executor(None, _sweepers.pop().stop)
    while _tasks:
        _tasks.pop().cancel()
    if not runtime.remote:  # a Ray actor outlives the front that made it, and any front serves it
        await loop.run_in_executor(None, _close_instances)
    await writer.stop()


def _mark_lost():
    try:
        count = lifecycle.instances_mark_lost()
    except DatabaseError as error:  # not migrated yet: nothing to mark
        logger.warning("Could not mark lost instances: %s", error)
    else:
        if count:
            logger.warning("Marked %d instance(s) of a previous server process as lost.", count)
    finally:
        connections.close_all()


def _resume():
    try:
        resumed, lost = resume.instances_resume()
    except DatabaseError as error:  # not migrated yet: nothing to rebuild
        logger.warning("Could not rebuild the instances of a previous server process: %s", error)
    else:
        if resumed or lost:
            logger.warning("Resumed %d instance(s) of a previous server process; %d lost.", resumed, lost)
    finally:
        connections.close_all()


def _close_instances():
    try:
        suspended, closed = resume.instances_suspend()
        if suspended or closed:
            logger.info("Suspended %d instance(s), closed %d.", suspended, closed)
    finally:
        connections.close_all()
