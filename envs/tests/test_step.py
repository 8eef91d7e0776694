"""POST /v1/envs/{id}/step/ {"action"} -> observation, reward, terminated, truncated, info, done."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from envs.models import Episode


def test_it_steps_with_a_valid_action(api, make_instance):
    instance_id = make_instance(reset=True, reset_seed=1)
    response = api.post(f"/v1/envs/{instance_id}/step/", {"action": 0})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"observation", "reward", "terminated", "truncated", "info", "done"}
    assert len(body["observation"]) == 4
    assert body["reward"] == 1.0
    assert body["done"] is (body["terminated"] or body["truncated"])


def test_it_answers_without_trailing_slash(api, make_instance):
    instance_id = make_instance(reset=True)
    assert api.post(f"/v1/envs/{instance_id}/step", {"action": 1}).status_code == 200


def test_it_refuses_to_step_before_reset(api, make_instance):
    instance_id = make_instance()
    response = api.post(f"/v1/envs/{instance_id}/step/", {"action": 0})
    assert response.status_code == 400
    assert response.json()["code"] == "reset_needed"
    assert "reset" in response.json()["detail"]


def test_it_refuses_an_action_outside_the_space_and_leaves_the_env_alone(api, make_instance):
    instance_id = make_instance(reset=True, reset_seed=1)
    before = api.get(f"/v1/envs/{instance_id}/").json()["episode"]
    response = api.post(f"/v1/envs/{instance_id}/step/", {"action": 2})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_action"
    assert "Discrete(2)" in body["detail"]
    assert body["fields"] == {"action": ["2 is not in Discrete(2)"]}
    assert api.get(f"/v1/envs/{instance_id}/").json()["episode"] == before


def test_it_records_the_episode_at_its_end(api, make_instance):
    instance_id = make_instance(reset=True, reset_seed=1)
    steps = 0
    while True:
        body = api.post(f"/v1/envs/{instance_id}/step/", {"action": 0}).json()
        steps += 1
        if body["done"]:
            break
    episode = Episode.objects.get(instance_id=instance_id, number=1)
    assert episode.steps == steps
    assert episode.total_reward == float(steps)
    assert episode.terminated and episode.ended_at is not None
    assert episode.outcome == "terminated"


def test_it_refuses_to_step_after_the_episode_ended(api, make_instance):
    instance_id = make_instance(reset=True, reset_seed=1)
    while not api.post(f"/v1/envs/{instance_id}/step/", {"action": 0}).json()["done"]:
        pass
    response = api.post(f"/v1/envs/{instance_id}/step/", {"action": 0})
    assert response.status_code == 400
    assert response.json()["code"] == "reset_needed"
    assert "reset" in response.json()["detail"]


def test_it_writes_nothing_to_the_database_on_a_step_inside_an_episode(
    api, make_instance, django_assert_num_queries, settings
):
    settings.GYMAPI_FLUSH_SECONDS = 3600
    instance_id = make_instance(reset=True, reset_seed=1)
    with django_assert_num_queries(0):
        for _ in range(5):
            body = api.post(f"/v1/envs/{instance_id}/step/", {"action": 1}).json()
            assert not body["done"]
    # Counted in memory until it ends: its row is still the one its first reset wrote (README, Restarts).
    assert list(Episode.objects.filter(instance_id=instance_id).values_list("steps", "ended_at")) == [(0, None)]


def test_an_episode_costs_one_write_at_its_end(api, make_instance, settings):
    settings.GYMAPI_FLUSH_SECONDS = 3600
    # An instance's first reset also writes its episode's row (README, Restarts): the second episode is any episode.
    instance_id = make_instance(reset=True)
    while not api.post(f"/v1/envs/{instance_id}/step/", {"action": 0}).json()["done"]:
        pass
    with CaptureQueriesContext(connection) as queries:
        api.post(f"/v1/envs/{instance_id}/reset/", {"seed": 1})
        while not api.post(f"/v1/envs/{instance_id}/step/", {"action": 1}).json()["done"]:
            pass
        api.post(f"/v1/envs/{instance_id}/reset/", {})
    # An executemany is logged as "N times: INSERT ...".
    statements = [query["sql"].split(" times: ")[-1].split()[0] for query in queries]
    writes = [statement for statement in statements if statement in ("INSERT", "UPDATE")]
    assert writes == ["INSERT"]  # the episode's row, inserted finished
    episode = Episode.objects.get(instance_id=instance_id, number=2)
    assert (episode.seed, episode.outcome, episode.ended_at is not None) == (1, "terminated", True)
    assert episode.steps == episode.total_reward > 0


def test_it_writes_the_running_counts_once_the_flush_interval_has_passed(api, make_instance, settings):
    settings.GYMAPI_FLUSH_SECONDS = 0
    instance_id = make_instance(reset=True, reset_seed=1)
    for _ in range(3):
        api.post(f"/v1/envs/{instance_id}/step/", {"action": 1})
    episode = Episode.objects.get(instance_id=instance_id, number=1)
    assert (episode.steps, episode.total_reward, episode.ended_at) == (3, 3.0, None)


def test_it_refuses_a_missing_action_naming_the_field(api, make_instance):
    instance_id = make_instance(reset=True)
    for body in ({}, None, {"act": 1}):
        response = api.post(f"/v1/envs/{instance_id}/step/", body)
        assert response.status_code == 400
        assert "action" in response.json()["fields"]


def test_it_decodes_a_continuous_action_into_the_space_dtype(api, make_instance):
    instance_id = make_instance("Pendulum-v1", reset=True, reset_seed=3)
    response = api.post(f"/v1/envs/{instance_id}/step/", {"action": [0.5]})
    assert response.status_code == 200
    assert isinstance(response.json()["reward"], float)
    # Same number of values in another layout (older clients send 0.5) is reshaped.
    for reshaped in (0.5, [[0.5]]):
        assert api.post(f"/v1/envs/{instance_id}/step/", {"action": reshaped}).status_code == 200
    for wrong in ([3.0], [0.5, 0.5], ["a"], ["NaN"], "Infinity", {"a": 1}):
        response = api.post(f"/v1/envs/{instance_id}/step/", {"action": wrong})
        assert response.status_code == 400, wrong
        assert response.json()["code"] == "invalid_action"
        assert "Box" in response.json()["detail"]


def test_it_answers_404_for_an_unknown_instance(api, db):
    response = api.post("/v1/envs/00000000-0000-0000-0000-000000000000/step/", {"action": 0})
    assert response.status_code == 404
    assert response.json()["code"] == "instance_not_found"
