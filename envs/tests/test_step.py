"""POST /v1/envs/{id}/step/ {"action"} -> observation, reward, terminated, truncated, info, done."""

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
