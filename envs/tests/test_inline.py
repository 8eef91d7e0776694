"""envs/inline.py: cheap steps and resets answered on the event loop, everything
else handed to a thread, the environment used by one thread at a time and the
database never touched on the loop."""

import asyncio
import json
import threading
import uuid

import pytest
from asgiref.sync import sync_to_async

from envs import inline, services
from envs.models import Episode
from envs.runtime import runtime

pytestmark = pytest.mark.django_db(transaction=True)


def created(env_id="CartPole-v1", seed=1):
    """A reset instance whose first call the loop has already left to a thread."""
    instance_id = str(services.env_create(env_id=env_id, seed=seed).id)
    assert inline.call("reset", instance_id) is None  # a first call goes to a thread
    services.env_reset(instance_id=instance_id)
    return instance_id


def test_it_steps_a_cheap_environment_with_no_write_to_make():
    instance_id = created()
    body, write = inline.call("step", instance_id, action=1)
    assert body["reward"] == 1.0 and write is None
    assert runtime.get(instance_id).episode_steps == 1


def test_it_hands_back_the_episode_write_and_touches_no_database_on_the_loop():
    instance_id = created()

    async def run_episode_on_a_loop():
        # Django refuses database calls on a thread running an event loop:
        # any query here would raise SynchronousOnlyOperation.
        while True:
            body, write = inline.call("step", instance_id, action=1)
            if body["done"]:
                return write

    write = asyncio.run(run_episode_on_a_loop())
    assert write is not None and not Episode.objects.filter(instance_id=instance_id).exists()
    asyncio.run(sync_to_async(write)())
    episode = Episode.objects.get(instance_id=instance_id)
    assert episode.outcome == "terminated" and episode.steps == runtime.get(instance_id).episode_steps


def test_it_leaves_an_instance_whose_lock_is_held_to_a_thread():
    instance_id = created()
    live = runtime.get(instance_id)
    held, release = threading.Event(), threading.Event()

    def hold():
        with live.lock:
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    try:
        assert inline.call("step", instance_id, action=1) is None
        assert live.episode_steps == 0
    finally:
        release.set()
        holder.join()


def test_it_leaves_a_due_periodic_write_to_a_thread(settings):
    instance_id = created()
    settings.GYMAPI_FLUSH_SECONDS = 0
    assert inline.call("step", instance_id, action=1) is None
    assert runtime.get(instance_id).episode_steps == 0


def test_it_leaves_unknown_and_closed_instances_to_a_thread():
    instance_id = created()
    services.env_close(instance_id=instance_id)
    assert inline.call("step", instance_id, action=1) is None
    assert inline.call("step", "not-an-id", action=1) is None


def test_it_leaves_everything_to_threads_when_off(settings):
    instance_id = created()
    settings.GYMAPI_INLINE = False
    assert inline.call("step", instance_id, action=1) is None
    assert runtime.get(instance_id).episode_steps == 0


def test_it_raises_the_errors_of_the_call_itself():
    instance_id = created()
    with pytest.raises(Exception, match="action"):
        inline.call("step", instance_id, action=7)
    assert runtime.get(instance_id).episode_steps == 0


def test_it_sends_a_slow_environment_to_threads_and_retries_it_now_and_then(monkeypatch):
    instance_id = created()
    monkeypatch.setattr(inline, "SLOW_SECONDS", 0.0)
    assert inline.call("step", instance_id, action=1) is not None  # measured: slower than 0 s
    assert inline.is_slow(instance_id)
    answered = [inline.call("step", instance_id, action=1) is not None for _ in range(inline.RETRY_EVERY)]
    assert answered.count(True) == 1 and answered[-1]


@pytest.mark.asyncio
async def test_the_fast_path_answers_mid_episode_steps_without_a_thread(monkeypatch):
    from gymapi.asgi import http_app

    instance_id = await sync_to_async(created)()
    loop = asyncio.get_running_loop()
    hops = []
    original = loop.run_in_executor

    def counting(executor, function, *args):
        hops.append(getattr(function, "__name__", function))
        return original(executor, function, *args)

    monkeypatch.setattr(loop, "run_in_executor", counting)
    statuses = []
    for action in (0, 1, 0):
        body = json.dumps({"action": action}).encode()
        sent = []

        async def receive(body=body):
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message, sent=sent):
            sent.append(message)

        scope = {
            "type": "http", "method": "POST", "path": f"/v1/envs/{instance_id}/step/", "query_string": b"",
            "headers": [(b"host", b"testserver"), (b"content-type", b"application/json")],
        }
        await http_app(scope, receive, send)
        statuses.append(sent[0]["status"])
    assert statuses == [200, 200, 200] and hops == []


def test_it_steps_a_cheap_vector_instance_and_hands_back_its_episode_writes(settings):
    from envs import vector

    instance_id = str(vector.vector_create(env_id="CartPole-v1", num_envs=4, seed=0).id)
    assert inline.call("reset", instance_id, vector=True) is None  # a first call goes to a thread
    vector.vector_reset(instance_id=instance_id)
    settings.GYMAPI_FLUSH_SECONDS = 0  # every step that ends episodes writes them

    async def step_until_an_episode_ends():
        while True:
            body, write = inline.call("step", instance_id, vector=True, action=[1, 1, 1, 1])
            if any(body["done"]):
                return write

    write = asyncio.run(step_until_an_episode_ends())  # no database on the loop, or this raises
    assert write is not None and not Episode.objects.filter(instance_id=instance_id).exists()
    asyncio.run(sync_to_async(write)())
    assert Episode.objects.filter(instance_id=instance_id, terminated=True).count() >= 1
    assert inline.call("step", str(uuid.uuid4()), vector=True, action=[0] * 4) is None
