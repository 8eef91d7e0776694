"""gymapi/lifecycle.py: the server starts and stops behind the ASGI lifespan, and nothing
starts on import."""

import asyncio
import threading

import pytest

from envs import rendering
from envs.models import EnvInstance, Episode, InstanceStatus
from envs.recording.writer import writer

from . import drive

pytestmark = pytest.mark.django_db(transaction=True)


def sweeper_threads():
    return [thread for thread in threading.enumerate() if thread.name.startswith("sweeper")]


def test_importing_the_application_starts_nothing():
    from gymapi import asgi  # noqa: F401

    assert sweeper_threads() == []


@pytest.mark.parametrize("resume", [True, False])
def test_the_lifespan_marks_the_lost_starts_and_stops_and_suspends_or_closes_every_instance(settings, monkeypatch,
                                                                                             resume):
    from gymapi.asgi import application

    settings.GYMAPI_RESUME = resume

    monkeypatch.setattr(rendering, "_streams_ending", False)  # the shutdown ends every MJPEG stream for good

    settings.GYMAPI_WRITER = "thread"
    left = EnvInstance.objects.create(env_id="CartPole-v1", process=drive.ended_process())  # a previous process's
    answers = []

    async def serve():
        queue = asyncio.Queue()
        queue.put_nowait({"type": "lifespan.startup"})

        async def send(message):
            answers.append(message["type"])
            if message["type"] == "lifespan.startup.complete":
                # The idle sweep, and with GYMAPI_RESUME the checkpoints of instances at rest.
                assert len(sweeper_threads()) == 1 + resume and writer.loop is asyncio.get_running_loop()
                # An instance served meanwhile, mid-episode, its rows through the started writer.
                instance_id = await asyncio.to_thread(drive.create, "CartPole-v1", seed=1)
                await asyncio.to_thread(drive.reset, instance_id)
                await asyncio.to_thread(drive.step, instance_id, 0)
                answers.append(instance_id)
                queue.put_nowait({"type": "lifespan.shutdown"})

        await application({"type": "lifespan", "asgi": {"version": "3.0"}}, queue.get, send)

    asyncio.run(asyncio.wait_for(serve(), 60))
    assert answers[0] == "lifespan.startup.complete" and answers[-1] == "lifespan.shutdown.complete"
    left.refresh_from_db()
    assert left.status == InstanceStatus.LOST
    ended = EnvInstance.objects.get(pk=answers[1])
    episode = Episode.objects.get(instance=ended)
    if resume:  # suspended, its running episode written as it stands, for the next server to take up
        assert ended.status == InstanceStatus.SUSPENDED
        assert (episode.outcome, episode.steps, episode.resumable) == ("running", 1, True)
    else:
        assert ended.status == InstanceStatus.CLOSED
        assert episode.outcome == "interrupted"
    assert sweeper_threads() == [] and writer.loop is None
