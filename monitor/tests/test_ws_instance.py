"""ws/envs/{id}/: one instance's frames and step events, while someone watches.

Every test runs on the in-memory channel layer and on Redis.
"""

import uuid

import pytest

from envs.events import instance_group, watchers

from .helpers import close, image_of, new_instance, step

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


async def arrive(watch, instance_id):
    """Connect, and read the instance's description and its current step event."""
    watcher = await watch(f"/ws/envs/{instance_id}/")
    hello = await watcher.receive()
    assert hello["type"] == "instance"
    current = await watcher.receive()
    assert current["type"] == "step"
    return watcher, hello, current


async def until_step(watcher, number):
    """Read step events until the one for step ``number``; returns the events read and its frame."""
    events = []
    while True:
        event = await watcher.receive()
        if isinstance(event, bytes) or event["type"] != "step":
            continue
        events.append(event)
        if event["step"] == number:
            frame = await watcher.receive() if event["frame"] else None
            return events, frame


async def test_it_describes_the_instance_and_sends_its_current_frame_on_arrival(watch):
    instance_id = await new_instance()
    watcher, hello, current = await arrive(watch, instance_id)
    assert hello == {"type": "instance", "instance_id": instance_id, "env_id": "CartPole-v1", "render_mode": "rgb_array"}
    assert current["episode"] == 1 and current["step"] == 0 and current["return"] == 0.0
    assert current["reward"] is None and current["frame"] == "image/jpeg"
    assert image_of(await watcher.receive(), "JPEG").size == (600, 400)


async def test_it_pushes_an_event_and_a_new_frame_when_the_instance_steps(watch):
    instance_id = await new_instance()
    watcher, _, _ = await arrive(watch, instance_id)
    first_frame = await watcher.receive()
    for _ in range(3):
        await step(instance_id=instance_id, action=1)
    events, frame = await until_step(watcher, 3)
    assert events[-1] | {"version": None} == {
        "type": "step",
        "instance_id": instance_id,
        "version": None,
        "episode": 1,
        "step": 3,
        "reward": 1.0,
        "return": 3.0,
        "terminated": False,
        "truncated": False,
        "frame": "image/jpeg",
        "text": None,
    }
    assert image_of(frame, "JPEG").size == (600, 400)
    assert frame != first_frame


async def test_it_throttles_frames_to_the_configured_rate(watch, settings):
    settings.GYMAPI_STREAM_FPS = 2
    instance_id = await new_instance()
    watcher, _, _ = await arrive(watch, instance_id)
    for _ in range(30):  # in-process steps: far quicker than the half second between frames
        await step(instance_id=instance_id, action=_ % 2)
    events, frame = await until_step(watcher, 30)
    assert len(events) < 30  # steps in between were skipped, the newest was sent
    assert frame is not None


async def test_it_tells_when_an_episode_finishes(watch):
    instance_id = await new_instance()
    watcher, _, _ = await arrive(watch, instance_id)
    steps, done = 0, False
    while not done:
        done = (await step(instance_id=instance_id, action=0))["done"]
        steps += 1
    event, _ = await watcher.receive_event("episode_finished")
    assert event == {
        "type": "episode_finished",
        "instance_id": instance_id,
        "env_id": "CartPole-v1",
        "episode": 1,
        "steps": steps,
        "return": float(steps),
        "terminated": True,
        "truncated": False,
    }


async def test_it_says_closed_and_hangs_up_when_the_instance_closes(watch):
    instance_id = await new_instance()
    watcher, _, _ = await arrive(watch, instance_id)
    await close(instance_id=instance_id)
    event, _ = await watcher.receive_event("closed")
    assert event == {"type": "closed", "instance_id": instance_id}
    assert await watcher.receive() == {"type": "websocket.close", "code": 1000}


async def test_it_sends_ansi_text_in_the_event_and_no_binary_frame(watch):
    instance_id = await new_instance("Taxi-v4", "ansi")
    watcher, _, current = await arrive(watch, instance_id)
    assert current["frame"] is None
    assert current["text"].startswith("+---------+")
    assert await watcher.nothing_waiting()


async def test_it_sends_counters_without_a_picture_for_an_instance_that_draws_nothing(watch):
    instance_id = await new_instance(render_mode=None)
    watcher, _, current = await arrive(watch, instance_id)
    assert current["frame"] is None and current["text"] is None
    await step(instance_id=instance_id, action=0)
    events, frame = await until_step(watcher, 1)
    assert events[-1]["return"] == 1.0 and frame is None


async def test_it_waits_for_the_first_reset_before_drawing(watch):
    instance_id = await new_instance(reset_seed=False)
    _, _, current = await arrive(watch, instance_id)
    assert current["episode"] == 0 and current["frame"] is None


async def test_it_refuses_an_unknown_instance_with_the_apis_error(watch):
    watcher = await watch(f"/ws/envs/{uuid.uuid4()}/")
    event = await watcher.receive()
    assert event["type"] == "error" and event["code"] == "instance_not_found"
    assert await watcher.receive() == {"type": "websocket.close", "code": 4404}


async def test_it_refuses_a_closed_instance_as_gone(watch):
    instance_id = await new_instance()
    await close(instance_id=instance_id)
    watcher = await watch(f"/ws/envs/{instance_id}")
    event = await watcher.receive()
    assert event["type"] == "error" and event["code"] == "instance_closed"
    assert await watcher.receive() == {"type": "websocket.close", "code": 4410}


async def test_it_counts_its_watchers_until_the_last_one_leaves(watch):
    instance_id = await new_instance()
    first, _, _ = await arrive(watch, instance_id)
    second, _, _ = await arrive(watch, instance_id)
    assert watchers.count(instance_group(instance_id)) == 2
    await first.disconnect()
    assert watchers.count(instance_group(instance_id)) == 1
    await second.disconnect()
    assert watchers.count(instance_group(instance_id)) == 0
