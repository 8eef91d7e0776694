"""GET /v1/envs/{id}/episodes/ -> an instance's recorded episodes, oldest first, closed instances too."""

import uuid

from envs.models import Episode


def run_episode(api, instance_id, action=0):
    steps = 0
    while not api.post(f"/v1/envs/{instance_id}/step/", {"action": action}).json()["done"]:
        steps += 1
    return steps + 1


def test_it_lists_the_recorded_episodes_oldest_first(api, make_instance):
    instance_id = make_instance(reset=True, reset_seed=1)
    first = run_episode(api, instance_id)
    api.post(f"/v1/envs/{instance_id}/reset/", {"seed": 2})
    second = run_episode(api, instance_id, action=1)
    response = api.get(f"/v1/envs/{instance_id}/episodes/")
    assert response.status_code == 200
    body = response.json()
    assert (body["instance_id"], body["env_id"], body["status"], body["count"]) == (
        instance_id,
        "CartPole-v1",
        "active",
        2,
    )
    rows = [(e["number"], e["seed"], e["steps"], e["return"], e["outcome"]) for e in body["episodes"]]
    assert rows == [(1, 1, first, float(first), "terminated"), (2, 2, second, float(second), "terminated")]
    assert body["episodes"][0]["ended"] is not None


def test_it_shows_the_running_episode_with_its_live_counts(api, make_instance):
    instance_id = make_instance(reset=True, reset_seed=1)
    for _ in range(3):
        api.post(f"/v1/envs/{instance_id}/step/", {"action": 0})
    assert Episode.objects.get(instance_id=instance_id).steps == 0  # its first reset's row: the steps are not written yet
    running = api.get(f"/v1/envs/{instance_id}/episodes/").json()["episodes"][-1]
    assert (running["outcome"], running["steps"], running["return"], running["ended"]) == ("running", 3, 3.0, None)


def test_it_keeps_answering_after_the_instance_is_closed(api, make_instance):
    instance_id = make_instance(reset=True, reset_seed=1)
    steps = run_episode(api, instance_id)
    api.post(f"/v1/envs/{instance_id}/reset/", {})
    api.post(f"/v1/envs/{instance_id}/step/", {"action": 0})
    api.delete(f"/v1/envs/{instance_id}")
    body = api.get(f"/v1/envs/{instance_id}/episodes").json()
    assert body["status"] == "closed"
    assert [(e["steps"], e["outcome"]) for e in body["episodes"]] == [(steps, "terminated"), (1, "interrupted")]


def test_it_returns_the_latest_episodes_up_to_the_limit(api, make_instance):
    instance_id = make_instance(reset=True)
    for _ in range(4):
        api.post(f"/v1/envs/{instance_id}/step/", {"action": 0})  # an episode that took no step is not written
        api.post(f"/v1/envs/{instance_id}/reset/", {})
    body = api.get(f"/v1/envs/{instance_id}/episodes/?limit=2").json()
    assert body["count"] == 5
    assert [e["number"] for e in body["episodes"]] == [4, 5]


def test_it_refuses_a_bad_limit_naming_the_field(api, make_instance):
    instance_id = make_instance()
    response = api.get(f"/v1/envs/{instance_id}/episodes/?limit=zero")
    assert response.status_code == 400
    assert "limit" in response.json()["fields"]


def test_it_answers_404_for_an_unknown_instance(api, db):
    for instance_id in (uuid.uuid4(), "not-a-uuid"):
        response = api.get(f"/v1/envs/{instance_id}/episodes/")
        assert response.status_code == 404
        assert response.json()["code"] == "instance_not_found"
