"""ws/envs/: every instance on the server appearing, finishing episodes and ending.

Every test runs on the in-memory channel layer and on Redis.
"""

import time

import pytest
from channels.db import database_sync_to_async

from envs.runtime import runtime
from envs.models import EnvInstance, InstanceStatus
from envs.errors import InstanceGone
from envs.events import SERVER_GROUP, watchers

from .helpers import close, new_instance, reset, step

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


async def arrive(watch):
    watcher = await watch("/ws/envs/")
    snapshot = await watcher.receive()
    assert snapshot["type"] == "instances"
    return watcher, snapshot["instances"]


async def test_it_lists_the_active_instances_on_arrival(watch):
    first = await new_instance()
    second = await new_instance("Taxi-v4", "ansi", reset_seed=False)
    await close(instance_id=await new_instance())
    _, instances = await arrive(watch)
    assert [instance["instance_id"] for instance in instances] == [first, second]
    assert 0 <= instances[0]["idle_seconds"] < 60
    assert instances[0] | {"created": None, "idle_seconds": None} == {
        "instance_id": first,
        "env_id": "CartPole-v1",
        "render_mode": "rgb_array",
        "created": None,
        "episode": 1,
        "step": 0,
        "return": 0.0,
        "terminated": False,
        "truncated": False,
        "idle_seconds": None,
    }
    assert instances[1]["render_mode"] == "ansi" and instances[1]["episode"] == 0


async def test_it_says_how_long_each_instance_has_been_idle(watch, monkeypatch):
    instance_id = await new_instance()
    live = runtime.get(instance_id)
    monkeypatch.setattr(live, "last_used", time.monotonic() - 180)  # untouched for 3 minutes
    _, instances = await arrive(watch)
    assert 180 <= instances[0]["idle_seconds"] < 240
    await step(instance_id=instance_id, action=0)
    _, instances = await arrive(watch)
    assert instances[0]["idle_seconds"] < 60


async def test_it_announces_a_created_instance(watch):
    watcher, instances = await arrive(watch)
    assert instances == []
    instance_id = await new_instance(render_mode="rgb_array", reset_seed=False)
    event, _ = await watcher.receive_event("created")
    assert event | {"created": None} == {
        "type": "created",
        "instance_id": instance_id,
        "env_id": "CartPole-v1",
        "render_mode": "rgb_array",
        "created": None,
    }


async def test_it_announces_a_closed_instance(watch):
    instance_id = await new_instance()
    watcher, _ = await arrive(watch)
    await close(instance_id=instance_id)
    event, _ = await watcher.receive_event("closed")
    assert event == {"type": "closed", "instance_id": instance_id}


async def test_it_announces_a_finished_episode(watch):
    instance_id = await new_instance(render_mode=None)
    watcher, _ = await arrive(watch)
    steps, done = 0, False
    while not done:
        done = (await step(instance_id=instance_id, action=1))["done"]
        steps += 1
    event, _ = await watcher.receive_event("episode_finished")
    assert event["instance_id"] == instance_id
    assert (event["episode"], event["steps"], event["return"], event["terminated"]) == (1, steps, float(steps), True)


async def test_it_announces_an_episode_interrupted_by_a_reset(watch):
    instance_id = await new_instance(render_mode=None)
    watcher, _ = await arrive(watch)
    await step(instance_id=instance_id, action=1)
    await reset(instance_id=instance_id)
    event, _ = await watcher.receive_event("episode_finished")
    assert (event["episode"], event["steps"], event["terminated"], event["truncated"]) == (1, 1, False, False)


async def test_it_announces_an_instance_found_lost(watch):
    # Recorded active, but held by no environment here: a previous process had it.
    instance = await database_sync_to_async(EnvInstance.objects.create)(env_id="CartPole-v1")
    watcher, _ = await arrive(watch)
    with pytest.raises(InstanceGone):
        await step(instance_id=instance.id, action=0)
    event, _ = await watcher.receive_event("lost")
    assert event == {"type": "lost", "instance_id": str(instance.id)}
    await database_sync_to_async(instance.refresh_from_db)()
    assert instance.status == InstanceStatus.LOST


async def test_it_counts_its_watchers(watch):
    watcher, _ = await arrive(watch)
    assert watchers.count(SERVER_GROUP) == 1
    await watcher.disconnect()
    assert watchers.count(SERVER_GROUP) == 0
