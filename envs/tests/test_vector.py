"""/v1/vector_envs/: batched vector environments on Gymnasium's vector API.

Each test reads as the routes' specification; stepping is compared with
``gym.make_vec`` run in this process with the same seed and actions.
"""

import asyncio
import json

import gymnasium as gym
import numpy as np
import pytest
from gymapi_client.spaces import build_space

from envs.models import EnvInstance, Episode, InstanceStatus
from envs.runtime import VECTOR, runtime
from envs.services import lifecycle

from . import drive

pytestmark = pytest.mark.django_db

URL = "/v1/vector_envs/"


@pytest.fixture
def make_vector(api):
    """Create a vector instance through the API; returns its id. ``reset=`` a body resets it too."""

    def make(env_id="CartPole-v1", num_envs=4, reset=None, **fields):
        response = api.post(URL, {"env_id": env_id, "num_envs": num_envs, **fields})
        assert response.status_code == 201, response.content
        assert response.json()["num_envs"] == num_envs
        instance_id = response.json()["instance_id"]
        if reset is not None:
            assert api.post(f"{URL}{instance_id}/reset/", reset).status_code == 200
        return instance_id

    return make


@pytest.fixture
def batched_writes(settings):
    """Finished episodes wait in memory until 1,024 gather, a reset, a close or a listing."""
    settings.GYMAPI_FLUSH_SECONDS = 3600


def step(api, instance_id, action):
    response = api.post(f"{URL}{instance_id}/step/", {"action": action})
    assert response.status_code == 200, response.content
    return response.json()


def assert_same_step(answer, expected, dtype=np.float32):
    observation, reward, terminated, truncated, _ = expected
    np.testing.assert_array_equal(np.array(answer["observation"], dtype=dtype), observation)
    assert answer["reward"] == np.asarray(reward).tolist()
    assert answer["terminated"] == terminated.tolist()
    assert answer["truncated"] == truncated.tolist()
    assert answer["done"] == (terminated | truncated).tolist()


def expected_episodes(env_id, num_envs, seed, actions, **make_kwargs):
    """Each sub-environment's episodes, counted here from an in-process make_vec run with
    NEXT_STEP autoreset: ``{(sub_env, number): (steps, return, terminated, truncated)}``
    ended ones, and the running ones as interrupted ``(steps, return, False, False)``."""
    env = gym.make_vec(env_id, num_envs, **make_kwargs)
    env.reset(seed=seed)
    number = [1] * num_envs
    steps, returns = [0] * num_envs, [0.0] * num_envs
    restarting = [False] * num_envs
    episodes = {}
    for action in actions:
        _, reward, terminated, truncated, _ = env.step(np.asarray(action))
        for i in range(num_envs):
            if restarting[i]:
                number[i], steps[i], returns[i], restarting[i] = number[i] + 1, 0, 0.0, False
                continue
            steps[i] += 1
            returns[i] += float(reward[i])
            if terminated[i] or truncated[i]:
                episodes[(i, number[i])] = (steps[i], returns[i], bool(terminated[i]), bool(truncated[i]))
                restarting[i] = True
    for i in range(num_envs):
        if not restarting[i]:
            episodes[(i, number[i])] = (steps[i], returns[i], False, False)
    env.close()
    return episodes


# --- create -------------------------------------------------------------------------


def test_it_creates_a_vector_instance_and_records_it(api):
    response = api.post(URL, {"env_id": "CartPole-v1", "num_envs": 8, "seed": 3})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"instance_id", "num_envs"}
    assert body["num_envs"] == 8
    instance = EnvInstance.objects.get(pk=body["instance_id"])
    assert (instance.env_id, instance.num_envs, instance.seed, instance.status) == ("CartPole-v1", 8, 3, "active")
    assert instance.max_episode_steps == 500
    assert runtime.get(body["instance_id"]).num_envs == 8


@pytest.mark.parametrize("num_envs", [0, -1, 257, 10_000, "4", 4.0, True, None, [4]])
def test_it_refuses_a_bad_num_envs_naming_the_field(api, num_envs):
    response = api.post(URL, {"env_id": "CartPole-v1", "num_envs": num_envs})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert "num_envs" in body["fields"]
    assert not EnvInstance.objects.exists()
    assert runtime.ids(VECTOR) == []


def test_it_refuses_more_than_256_saying_so(api):
    response = api.post(URL, {"env_id": "CartPole-v1", "num_envs": 257})
    assert response.json()["fields"]["num_envs"] == ["Ensure this value is less than or equal to 256."]


def test_it_needs_num_envs_and_env_id(api):
    response = api.post(URL, {})
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"env_id", "num_envs"}


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"env_id": "NoSuchEnv-v0"}, "env_id"),
        ({"env_id": "gymnasium.envs.classic_control:CartPoleEnv"}, "env_id"),
        ({"kwargs": {"num_envs": 3}}, "kwargs.num_envs"),
        ({"kwargs": {"vectorization_mode": "async"}}, "kwargs.vectorization_mode"),
        ({"kwargs": {"no_such_argument": 1}}, "kwargs.no_such_argument"),
        ({"seed": -1}, "seed"),
        ({"max_episode_steps": 0}, "max_episode_steps"),
    ],
)
def test_it_refuses_bad_fields_and_creates_nothing(api, fields, field):
    response = api.post(URL, {"env_id": "CartPole-v1", "num_envs": 2, **fields})
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]
    assert not EnvInstance.objects.exists()
    assert runtime.ids(VECTOR) == []


def test_it_passes_kwargs_and_max_episode_steps_to_every_sub_env(api, make_vector):
    instance_id = make_vector(num_envs=3, kwargs={"sutton_barto_reward": True}, max_episode_steps=4, reset={"seed": 0})
    answers = [step(api, instance_id, [0, 1, 0]) for _ in range(5)]
    # Sutton and Barto's reward: 0 per step until the pole falls; truncated by the 4-step limit.
    assert all(reward == 0.0 for answer in answers for reward in answer["reward"])
    assert answers[3]["truncated"] == [True, True, True]
    assert EnvInstance.objects.get(pk=instance_id).max_episode_steps == 4


# --- reset and step: parity with gym.make_vec --------------------------------------------


def test_it_steps_exactly_as_make_vec_with_the_same_seed_and_actions(api, make_vector):
    instance_id = make_vector(num_envs=8)
    reference = gym.make_vec("CartPole-v1", 8, vectorization_mode="vector_entry_point")
    answer = api.post(f"{URL}{instance_id}/reset/", {"seed": 42}).json()
    observation, _ = reference.reset(seed=42)
    np.testing.assert_array_equal(np.array(answer["observation"], dtype=np.float32), observation)
    assert answer["info"] == {}
    rng = np.random.default_rng(0)
    autoresets = 0
    for _ in range(150):
        actions = rng.integers(0, 2, size=8)
        answer = step(api, instance_id, actions.tolist())
        assert_same_step(answer, reference.step(actions))
        autoresets += sum(answer["done"])
    assert autoresets > 8  # episodes ended and sub-environments reset themselves


def test_it_steps_a_box_action_env_as_make_vec_does(api, make_vector):
    # Pendulum has no vector entry point: SyncVectorEnv, one Box action per sub-env.
    instance_id = make_vector("Pendulum-v1", num_envs=3, max_episode_steps=7)
    reference = gym.make_vec("Pendulum-v1", 3, vectorization_mode="sync", max_episode_steps=7)
    answer = api.post(f"{URL}{instance_id}/reset/", {"seed": 5}).json()
    np.testing.assert_array_equal(np.array(answer["observation"], dtype=np.float32), reference.reset(seed=5)[0])
    rng = np.random.default_rng(1)
    truncations = 0
    for _ in range(20):
        actions = rng.uniform(-2, 2, size=(3, 1)).astype(np.float32)
        answer = step(api, instance_id, actions.tolist())
        assert_same_step(answer, reference.step(actions))
        truncations += sum(answer["truncated"])
    assert truncations == 6  # every sub-env truncated at steps 7 and 15


def test_it_reads_one_number_per_sub_env_for_a_one_dimensional_box(api, make_vector):
    instance_id = make_vector("Pendulum-v1", num_envs=2, reset={"seed": 0})
    reference = gym.make_vec("Pendulum-v1", 2, vectorization_mode="sync")
    reference.reset(seed=0)
    answer = step(api, instance_id, [0.5, -1.5])
    assert_same_step(answer, reference.step(np.array([[0.5], [-1.5]], dtype=np.float32)))


def test_it_seeds_the_first_reset_with_the_creation_seed(api, make_vector):
    instance_id = make_vector(num_envs=4, seed=11)
    answer = api.post(f"{URL}{instance_id}/reset/", {}).json()
    reference = gym.make_vec("CartPole-v1", 4)
    np.testing.assert_array_equal(np.array(answer["observation"], dtype=np.float32), reference.reset(seed=11)[0])
    # Spent: the next unseeded reset continues the generator, as in-process.
    again = api.post(f"{URL}{instance_id}/reset/", {}).json()
    np.testing.assert_array_equal(np.array(again["observation"], dtype=np.float32), reference.reset()[0])


def test_it_seeds_sub_env_i_with_seed_plus_i_in_sync_mode(api, make_vector):
    instance_id = make_vector("Pendulum-v1", num_envs=3)
    answer = api.post(f"{URL}{instance_id}/reset/", {"seed": 100}).json()
    for i in range(3):
        single = gym.make("Pendulum-v1")
        np.testing.assert_array_equal(np.array(answer["observation"][i], dtype=np.float32), single.reset(seed=100 + i)[0])


def test_it_refuses_a_step_before_the_first_reset(api, make_vector):
    instance_id = make_vector()
    response = api.post(f"{URL}{instance_id}/step/", {"action": [0, 0, 0, 0]})
    assert response.status_code == 400
    assert response.json()["code"] == "reset_needed"
    assert "reset" in response.json()["detail"]


def test_it_refuses_partial_resets(api, make_vector):
    instance_id = make_vector(reset={})
    response = api.post(f"{URL}{instance_id}/reset/", {"options": {"reset_mask": [True, False, False, False]}})
    assert response.status_code == 400
    assert "options.reset_mask" in response.json()["fields"]


@pytest.mark.parametrize(
    "action, field, words",
    [
        ([0, 1, 0], "action", "a list of 4 actions"),
        ([0, 1, 0, 1, 0], "action", "a list of 4 actions"),
        (1, "action", "a list of 4 actions"),
        ({"0": 1}, "action", "a list of 4 actions"),
        ([0, 1, 2, 0], "action[2]", "2 is not in Discrete(2)"),
        ([0, 1, -1, 0], "action[2]", "is not in Discrete(2)"),
        ([0, True, 1, 0], "action[1]", "Discrete(2)"),
        ([0, 1, 0.5, 0], "action[2]", "Discrete(2)"),
        ([0, 1, "1", 0], "action[2]", "Discrete(2)"),
        ([0, 1, [1], 0], "action[2]", "Discrete(2)"),
        ([0, 1, 0, 2**70], "action[3]", "Discrete(2)"),
    ],
)
def test_it_refuses_a_wrong_action_naming_the_space_and_leaves_the_envs_untouched(api, make_vector, action, field, words):
    instance_id = make_vector(num_envs=4, reset={"seed": 9})
    reference = gym.make_vec("CartPole-v1", 4)
    reference.reset(seed=9)
    response = api.post(f"{URL}{instance_id}/step/", {"action": action})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_action"
    assert field in body["fields"]
    assert words in body["detail"]
    assert runtime.get(instance_id).steps == 0
    assert_same_step(step(api, instance_id, [1, 0, 1, 0]), reference.step(np.array([1, 0, 1, 0])))


@pytest.mark.parametrize(
    "action, field",
    [([[0.5], [3.0]], "action[1]"), ([[0.5], "x"], "action[1]"), ([[0.5, 0.5], [0.0]], "action[0]"), ([0.5], "action")],
)
def test_it_refuses_a_wrong_box_action_naming_the_box(api, make_vector, action, field):
    instance_id = make_vector("Pendulum-v1", num_envs=2, reset={"seed": 0})
    response = api.post(f"{URL}{instance_id}/step/", {"action": action})
    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert "Box(-2.0, 2.0, (1,), float32)" in response.json()["detail"]
    assert runtime.get(instance_id).steps == 0


@pytest.mark.parametrize("body", [{}, {"action": None}, {"actions": [0, 0, 0, 0]}, None, [0, 0, 0, 0], "x"])
def test_it_refuses_a_step_body_without_an_action(api, make_vector, body):
    instance_id = make_vector(reset={})
    response = api.post(f"{URL}{instance_id}/step/", body)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert runtime.get(instance_id).steps == 0


def test_it_refuses_unreadable_json_and_changes_nothing(api, make_vector):
    instance_id = make_vector(reset={})
    response = api.generic("POST", f"{URL}{instance_id}/step/", b'{"action": [0, 0,', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert runtime.get(instance_id).steps == 0


# --- recording ---------------------------------------------------------------------------


def test_it_records_each_sub_envs_episodes_with_their_steps_and_returns(api, make_vector):
    actions = np.random.default_rng(3).integers(0, 2, size=(120, 5)).tolist()
    instance_id = make_vector(num_envs=5, reset={"seed": 4})
    for action in actions:
        step(api, instance_id, action)
    assert api.delete(f"{URL}{instance_id}/").status_code == 200

    expected = expected_episodes("CartPole-v1", 5, 4, actions)
    rows = Episode.objects.filter(instance_id=instance_id)
    recorded = {(e.sub_env, e.number): (e.steps, e.total_reward, e.terminated, e.truncated) for e in rows}
    assert recorded == expected
    assert len({sub_env for sub_env, _ in recorded}) == 5
    assert sum(1 for e in rows if e.outcome == "terminated") >= 10
    assert all(e.ended_at is not None and e.started_at <= e.ended_at for e in rows)
    # The reset's seed for the episodes it started (one generator: the same seed), none for autoresets.
    assert {e.seed for e in rows if e.number == 1} == {4}
    assert {e.seed for e in rows if e.number > 1} == {None}


def test_it_writes_nothing_on_a_step_and_batches_the_ended_episodes(api, make_vector, batched_writes, django_assert_num_queries):
    instance_id = make_vector(num_envs=16, reset={"seed": 0})
    for _ in range(12):
        step(api, instance_id, [0] * 16)  # pushed one way, every pole falls within 12 steps
    assert not Episode.objects.filter(instance_id=instance_id).exists()
    with django_assert_num_queries(0):
        step(api, instance_id, [0] * 16)
    listed = api.get(f"{URL}{instance_id}/episodes/").json()  # a listing writes what waits first
    assert listed["count"] == Episode.objects.filter(instance_id=instance_id).count() >= 16
    assert {episode["sub_env"] for episode in listed["episodes"]} == set(range(16))


def test_it_writes_the_ended_episodes_at_the_step_when_flushes_are_due(api, make_vector, settings):
    settings.GYMAPI_FLUSH_SECONDS = 0
    instance_id = make_vector(num_envs=4, reset={"seed": 0})
    ended = 0
    for _ in range(30):
        ended += sum(step(api, instance_id, [1, 1, 1, 1])["done"])
    assert ended and Episode.objects.filter(instance_id=instance_id).count() == ended


def test_it_records_the_episodes_a_reset_interrupts(api, make_vector, batched_writes):
    instance_id = make_vector(num_envs=3, reset={"seed": 0})
    for _ in range(4):
        step(api, instance_id, [0, 1, 0])
    api.post(f"{URL}{instance_id}/reset/", {})
    rows = Episode.objects.filter(instance_id=instance_id).order_by("sub_env")
    assert [(e.sub_env, e.number, e.steps, e.outcome) for e in rows] == [(i, 1, 4, "interrupted") for i in range(3)]
    assert runtime.get(instance_id).episode_numbers.tolist() == [2, 2, 2]


def test_it_records_nothing_with_recording_off(api, make_vector, settings):
    settings.GYMAPI_RECORD = False
    instance_id = make_vector(num_envs=4, reset={"seed": 0})
    for _ in range(20):
        step(api, instance_id, [0] * 4)
    assert runtime.get(instance_id).finished == []
    api.delete(f"{URL}{instance_id}/")
    assert not Episode.objects.exists()


def test_it_lists_episodes_of_one_sub_env_and_the_latest_first_cut(api, make_vector):
    instance_id = make_vector(num_envs=3, reset={"seed": 0})
    for _ in range(40):
        step(api, instance_id, [0, 0, 0])
    one = api.get(f"{URL}{instance_id}/episodes/?sub_env=1").json()
    assert one["count"] >= 3 and {e["sub_env"] for e in one["episodes"]} == {1}
    assert [e["number"] for e in one["episodes"]] == list(range(1, one["count"] + 1))
    latest = api.get(f"{URL}{instance_id}/episodes/?limit=2").json()
    assert len(latest["episodes"]) == 2 and latest["count"] > 2
    assert api.get(f"{URL}{instance_id}/episodes/?sub_env=-1").status_code == 400
    beyond = api.get(f"{URL}{instance_id}/episodes/?sub_env=99")
    assert beyond.status_code == 400 and "sub_env" in beyond.json()["fields"]


# --- list, describe, spaces, sample ------------------------------------------------------


def test_it_lists_active_vector_instances_apart_from_single_ones(api, make_vector, make_instance):
    vector_id = make_vector(num_envs=2)
    closed_id = make_vector(num_envs=3)
    single_id = make_instance()
    api.delete(f"{URL}{closed_id}/")
    assert api.get(URL).json() == {vector_id: {"env_id": "CartPole-v1", "num_envs": 2}}
    assert api.get("/v1/envs/").json() == {single_id: "CartPole-v1"}


def test_it_describes_an_instance_with_its_spaces_and_episodes(api, make_vector):
    instance_id = make_vector(num_envs=4, seed=1)
    before = api.get(f"{URL}{instance_id}/").json()
    assert before["needs_reset"] is True and before["episodes"] == 0
    api.post(f"{URL}{instance_id}/reset/", {})
    for _ in range(15):
        step(api, instance_id, [0, 0, 0, 0])
    body = api.get(f"{URL}{instance_id}/").json()
    assert body["instance_id"] == instance_id
    assert (body["env_id"], body["num_envs"], body["status"], body["seed"]) == ("CartPole-v1", 4, "active", 1)
    assert (body["vectorization_mode"], body["autoreset_mode"]) == ("vector_entry_point", "NextStep")
    assert body["steps"] == 15 and body["needs_reset"] is False
    live = runtime.get(instance_id)
    assert body["sub_envs"] == live.running_episodes()
    assert body["episodes"] == sum(live.episode_numbers.tolist()) > 4
    assert body["single_action_space"] == {"name": "Discrete", "n": 2, "start": 0, "dtype": "int64"}
    assert body["single_observation_space"]["shape"] == [4]
    assert body["action_space"] == {"name": "MultiDiscrete", "shape": [4], "dtype": "int64"}
    assert body["observation_space"] == {"name": "Box", "shape": [4, 4], "dtype": "float32"}
    assert body["spec"]["id"] == "CartPole-v1" and body["spec"]["max_episode_steps"] == 500


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1", "FrozenLake-v1"])
def test_it_describes_single_and_batched_spaces_that_rebuild_as_make_vec_has_them(api, make_vector, env_id):
    instance_id = make_vector(env_id, num_envs=3)
    reference = gym.make_vec(env_id, 3)
    for which in ("action_space", "observation_space"):
        body = api.get(f"{URL}{instance_id}/{which}/").json()
        assert body["num_envs"] == 3
        assert build_space(body["single"]) == getattr(reference, f"single_{which}")
        assert build_space(body["batched"]) == getattr(reference, which)


def test_it_samples_one_action_per_sub_env_reproducibly_with_a_seed(api, make_vector):
    first, second = make_vector(num_envs=6, seed=5), make_vector(num_envs=6, seed=5)
    samples = [api.get(f"{URL}{instance_id}/action_space/sample/").json()["action"] for instance_id in (first, second)]
    assert samples[0] == samples[1]
    assert len(samples[0]) == 6 and set(samples[0]) <= {0, 1}
    box = make_vector("Pendulum-v1", num_envs=2)
    action = api.get(f"{URL}{box}/action_space/sample/").json()["action"]
    assert len(action) == 2 and all(len(item) == 1 and -2 <= item[0] <= 2 for item in action)


def test_it_steps_a_sampled_action(api, make_vector):
    instance_id = make_vector("Pendulum-v1", num_envs=2, reset={})
    action = api.get(f"{URL}{instance_id}/action_space/sample/").json()["action"]
    assert api.post(f"{URL}{instance_id}/step/", {"action": action}).status_code == 200


# --- close, unknown, gone, the other kind --------------------------------------------------


def test_it_closes_an_instance_and_records_its_running_episodes(api, make_vector, batched_writes):
    instance_id = make_vector(num_envs=2, reset={"seed": 0})
    step(api, instance_id, [0, 1])
    assert api.delete(f"{URL}{instance_id}/").status_code == 200
    instance = EnvInstance.objects.get(pk=instance_id)
    assert instance.status == InstanceStatus.CLOSED and instance.closed_at is not None
    assert runtime.get(instance_id) is None
    assert [(e.sub_env, e.steps, e.outcome) for e in instance.episodes.order_by("sub_env")] == [
        (0, 1, "interrupted"),
        (1, 1, "interrupted"),
    ]
    for method, path in [("get", ""), ("post", "step/"), ("post", "reset/"), ("delete", ""), ("get", "action_space/")]:
        response = getattr(api, method)(f"{URL}{instance_id}/{path}", {"action": [0, 0]} if path == "step/" else None)
        assert response.status_code == 410, path
        assert response.json()["code"] == "instance_closed"
    assert api.get(f"{URL}{instance_id}/episodes/").json()["status"] == "closed"


@pytest.mark.parametrize("instance_id", ["0b8f5b0e-5b7e-4d51-9a53-3f6b5f1a2c11", "not-a-uuid"])
def test_it_answers_404_for_unknown_ids(api, instance_id):
    for method, path in [("get", ""), ("post", "step/"), ("post", "reset/"), ("delete", ""), ("get", "episodes/")]:
        response = getattr(api, method)(f"{URL}{instance_id}/{path}", {"action": [0]} if path == "step/" else None)
        assert response.status_code == 404, path
        assert response.json()["code"] == "instance_not_found"


def test_a_vector_id_is_a_clear_404_on_single_env_routes_and_stays_active(api, make_vector):
    instance_id = make_vector(reset={})
    for method, path in [("post", "step/"), ("post", "reset/"), ("get", ""), ("delete", ""), ("get", "episodes/"), ("get", "action_space/")]:
        response = getattr(api, method)(f"/v1/envs/{instance_id}/{path}", {"action": 0} if path == "step/" else None)
        assert response.status_code == 404, path
        assert response.json()["code"] == "wrong_instance_kind"
        assert f"/v1/vector_envs/{instance_id}/" in response.json()["detail"]
    assert EnvInstance.objects.get(pk=instance_id).status == InstanceStatus.ACTIVE
    step(api, instance_id, [0, 0, 0, 0])


def test_a_single_id_is_a_clear_404_on_vector_routes(api, make_instance):
    instance_id = make_instance(reset=True)
    for method, path in [("post", "step/"), ("post", "reset/"), ("get", ""), ("delete", ""), ("get", "episodes/")]:
        response = getattr(api, method)(f"{URL}{instance_id}/{path}", {"action": [0]} if path == "step/" else None)
        assert response.status_code == 404, path
        assert response.json()["code"] == "wrong_instance_kind"
        assert f"/v1/envs/{instance_id}/" in response.json()["detail"]
    assert api.post(f"/v1/envs/{instance_id}/step/", {"action": 0}).status_code == 200


def test_start_up_marks_vectors_of_a_previous_process_lost_and_keeps_live_ones(api, make_vector):
    live_id = make_vector()
    # Recorded active, not live here, by a process that has ended.
    gone = EnvInstance.objects.create(env_id="CartPole-v1", num_envs=4, process=drive.ended_process())
    assert lifecycle.instances_mark_lost() == 1
    gone.refresh_from_db()
    assert gone.status == InstanceStatus.LOST
    assert EnvInstance.objects.get(pk=live_id).status == InstanceStatus.ACTIVE
    response = api.post(f"{URL}{gone.id}/step/", {"action": [0, 0, 0, 0]})
    assert (response.status_code, response.json()["code"]) == (410, "instance_lost")


def test_a_vector_recorded_active_but_not_live_is_lost_when_asked_for(api):
    orphan = EnvInstance.objects.create(env_id="CartPole-v1", num_envs=2)
    response = api.get(f"{URL}{orphan.id}/")
    assert (response.status_code, response.json()["code"]) == (410, "instance_lost")
    orphan.refresh_from_db()
    assert orphan.status == InstanceStatus.LOST


def test_admin_pages_show_a_vector_instance_and_its_sub_env_episodes(admin_client, api, make_vector):
    instance_id = make_vector(num_envs=2, reset={"seed": 0})
    for _ in range(12):
        step(api, instance_id, [0, 0])
    api.delete(f"{URL}{instance_id}/")
    assert admin_client.get("/admin/envs/envinstance/?num_envs__isempty=0").status_code == 200
    page = admin_client.get(f"/admin/envs/envinstance/{instance_id}/change/")
    assert page.status_code == 200
    assert b"sub-env" in page.content  # the column of its episode table
    assert admin_client.get("/admin/envs/episode/").status_code == 200


# --- the fast path ----------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_fast_path_answers_vector_step_and_reset_as_django_does():
    from channels.db import database_sync_to_async

    from envs.tests.test_fastpath import JSON, call
    from gymapi.asgi import http_app

    apps = {"fast": http_app, "django": http_app.app}
    ids = {}
    for name in apps:
        body = json.dumps({"env_id": "CartPole-v1", "num_envs": 3, "seed": 2}).encode()
        status, _, content = await call(apps["django"], "POST", URL, body, JSON)
        assert status == 201, content
        ids[name] = json.loads(content)["instance_id"]
    requests = [
        ("step/", b'{"action": [0, 1, 0]}'),  # before the reset
        ("reset/", b""),
        ("reset", b'{"seed": 7}'),
        ("step/", b'{"action": [0, 1, 0]}'),
        ("step/", b'{"action": [0, 1, 5]}'),
        ("step/", b'{"action": 1}'),
        ("step/", b"{}"),
        ("step", b'{"action": [1, 1, 1]}'),
    ]
    for path, body in requests:
        answers = {}
        for name, app in apps.items():
            status, headers, content = await call(app, "POST", f"{URL}{ids[name]}/{path}", body, JSON)
            answers[name] = (status, headers, content.replace(ids[name].encode(), b"<id>"))
        assert answers["fast"] == answers["django"], (path, body)
    assert answers["fast"][0] == 200
    for instance_id in ids.values():
        await database_sync_to_async(runtime.remove)(instance_id)
    await asyncio.sleep(0)


def test_it_refuses_more_observation_bytes_a_step_than_the_server_allows(api, settings):
    settings.GYMAPI_MAX_VECTOR_OBS_BYTES = 1000  # CartPole's observation: 4 float32, 16 bytes
    response = api.post("/v1/vector_envs/", {"env_id": "CartPole-v1", "num_envs": 63})
    assert response.status_code == 400 and response.json()["code"] == "too_large"
    assert "num_envs" in response.json()["fields"]
    assert "at most 62" in response.json()["detail"] and "GYMAPI_MAX_VECTOR_OBS_BYTES" in response.json()["detail"]
    assert EnvInstance.objects.count() == 0 and runtime.ids() == []
    assert api.post("/v1/vector_envs/", {"env_id": "CartPole-v1", "num_envs": 62}).status_code == 201


@pytest.mark.slow
def test_it_refuses_hundreds_of_atari_frames_by_default(api):
    response = api.post("/v1/vector_envs/", {"env_id": "ALE/Pong-v5", "num_envs": 256})
    assert response.status_code == 400 and "at most 83" in response.json()["detail"]
    assert EnvInstance.objects.count() == 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_vector_step_of_big_observations_is_never_made_on_the_event_loop():
    from envs.http import dispatch

    from . import drive

    # Eight frames to step and encode, about 4.5 ms here: two, about 1 ms, sit on SLOW_SECONDS' line.
    instance_id = drive.create_vector("ALE/Pong-v5", num_envs=8, seed=0)
    drive.reset(instance_id, dispatch.VECTOR_RESET)
    drive.step(instance_id, [0] * 8, dispatch.VECTOR_STEP)  # measured in a thread
    assert dispatch.is_slow(instance_id, "step")
    assert dispatch.call_on_loop(dispatch.VECTOR_STEP, instance_id, {"action": [0] * 8}) is None
