"""envs/http/dispatch.py: one table of operations; an operation runs on the event loop
only once that same operation of that instance was measured cheap in a thread, and while
it stays cheap; everything else runs in a thread, the environment used by one thread at
a time and the database never touched on the loop."""

import asyncio
import json
import threading
import time
import uuid

import pytest
from asgiref.sync import sync_to_async

from envs.http import dispatch
from envs.models import Episode
from envs.recording.writer import writer
from envs.runtime import calls, runtime

from . import drive

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("cheap_calls")]


def warmed(env_id="CartPole-v1", seed=1):
    """A reset instance whose step was measured cheap in a thread."""
    instance_id = drive.create(env_id, seed=seed)
    drive.reset(instance_id)
    drive.step(instance_id, 0)
    return instance_id


def test_it_runs_nothing_on_the_loop_before_it_was_measured_in_a_thread():
    instance_id = drive.create(seed=1)
    assert dispatch.call_on_loop(dispatch.RESET, instance_id, {}) is None  # never measured
    drive.reset(instance_id)
    assert dispatch.call_on_loop(dispatch.STEP, instance_id, {"action": 1}) is None  # step: never measured
    assert runtime.get(instance_id).episode_steps == 0
    drive.step(instance_id, 1)
    steps = runtime.get(instance_id).episode_steps
    outcome = drive.step_on_loop(instance_id, 1)
    assert outcome.body["reward"] == 1.0 and outcome.rows == [] and runtime.get(instance_id).episode_steps == steps + 1


def test_an_operation_measured_slow_in_a_thread_never_runs_on_the_loop(monkeypatch):
    instance_id = drive.create(seed=1)
    drive.reset(instance_id)
    monkeypatch.setattr(dispatch, "SLOW_SECONDS", 0.0)
    drive.step(instance_id, 0)
    assert dispatch.is_slow(instance_id)
    assert all(drive.step_on_loop(instance_id, 0) is None for _ in range(200))  # no retries on the loop
    assert runtime.get(instance_id).episode_steps == 1


def test_an_operation_that_turns_slow_on_the_loop_goes_back_to_threads(monkeypatch):
    instance_id = warmed()
    live = runtime.get(instance_id)
    original = live._env.step

    def slow_step(action):
        time.sleep(0.2)  # 20 times SLOW_SECONDS: one call lifts the average past it
        return original(action)

    monkeypatch.setattr(dispatch, "SLOW_SECONDS", 0.01)
    monkeypatch.setattr(live._env, "step", slow_step)
    assert drive.step_on_loop(instance_id, 0) is not None
    assert drive.step_on_loop(instance_id, 0) is None and dispatch.is_slow(instance_id)


def test_it_hands_back_the_rows_and_touches_no_database_on_the_loop():
    instance_id = warmed()

    async def run_episode_on_a_loop():
        # Django refuses database calls on a thread running an event loop:
        # any query here would raise SynchronousOnlyOperation.
        while True:
            outcome = drive.step_on_loop(instance_id, 1)
            if outcome.body["done"]:
                return outcome.rows

    rows = asyncio.run(run_episode_on_a_loop())
    assert len(rows) == 1 and not Episode.objects.filter(instance_id=instance_id, ended_at__isnull=False).exists()
    asyncio.run(writer.write(rows))
    episode = Episode.objects.get(instance_id=instance_id)
    assert episode.outcome == "terminated" and episode.steps == runtime.get(instance_id).episode_steps


def test_it_leaves_an_instance_whose_lock_is_held_to_a_thread():
    instance_id = warmed()
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
        steps = live.episode_steps
        assert drive.step_on_loop(instance_id, 1) is None
        assert live.episode_steps == steps
    finally:
        release.set()
        holder.join()


def test_it_leaves_unknown_and_closed_instances_to_a_thread():
    instance_id = warmed()
    drive.close(instance_id)
    assert drive.step_on_loop(instance_id, 1) is None
    assert drive.step_on_loop("not-an-id", 1) is None


def test_it_leaves_everything_to_threads_when_off(settings):
    instance_id = warmed()
    settings.GYMAPI_INLINE = False
    steps = runtime.get(instance_id).episode_steps
    assert drive.step_on_loop(instance_id, 1) is None
    assert runtime.get(instance_id).episode_steps == steps


def test_it_returns_the_errors_of_the_call_itself():
    instance_id = warmed()
    steps = runtime.get(instance_id).episode_steps
    outcome = drive.step_on_loop(instance_id, 7)
    assert outcome.body is None and "action" in str(outcome.error)
    assert runtime.get(instance_id).episode_steps == steps


def test_the_thread_call_returns_its_error_as_an_outcome():
    outcome = dispatch.call(dispatch.STEP, str(uuid.uuid4()), {"action": 0})
    assert outcome.body is None and outcome.error.status_code == 404
    with pytest.raises(type(outcome.error)):
        outcome.result()


@pytest.mark.asyncio
async def test_the_fast_path_answers_mid_episode_steps_without_a_thread(monkeypatch):
    from gymapi.asgi import http_app

    instance_id = await sync_to_async(warmed)()
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


def test_it_steps_a_cheap_vector_instance_and_hands_back_its_rows(settings):
    instance_id = drive.create_vector(num_envs=4, seed=0)
    assert dispatch.call_on_loop(dispatch.VECTOR_RESET, instance_id, {}) is None  # a first call goes to a thread
    drive.reset(instance_id, dispatch.VECTOR_RESET)
    drive.step(instance_id, [0, 0, 0, 0], dispatch.VECTOR_STEP)
    settings.GYMAPI_FLUSH_SECONDS = 0  # every step that ends episodes writes them

    async def step_until_an_episode_ends():
        while True:
            outcome = drive.step_on_loop(instance_id, [1, 1, 1, 1], dispatch.VECTOR_STEP)
            if any(outcome.body["done"]):
                return outcome.rows

    rows = asyncio.run(step_until_an_episode_ends())  # no database on the loop, or this raises
    assert rows and not Episode.objects.filter(instance_id=instance_id).exists()
    asyncio.run(writer.write(rows))
    assert Episode.objects.filter(instance_id=instance_id, terminated=True).count() >= 1
    assert drive.step_on_loop(str(uuid.uuid4()), [0] * 4, dispatch.VECTOR_STEP) is None


def test_a_call_made_in_a_thread_is_measured_without_its_hand_off_to_the_call_thread(monkeypatch):
    # The hand-off made slow (a loaded machine): the step itself stays cheap, and is measured so.
    monkeypatch.setattr(dispatch, "SLOW_SECONDS", 0.005)  # a CartPole step is far below it
    instance_id = drive.create(seed=1)
    drive.reset(instance_id)
    handing = calls._CallThread.call

    def slow_hand_off(self, timeout, function, args, kwargs):
        time.sleep(0.05)  # ten times SLOW_SECONDS, outside the call itself
        return handing(self, timeout, function, args, kwargs)

    monkeypatch.setattr(calls._CallThread, "call", slow_hand_off)
    drive.step(instance_id, 0)
    assert not dispatch.is_slow(instance_id)
    assert drive.step_on_loop(instance_id, 0) is not None  # cheap: made on the loop
