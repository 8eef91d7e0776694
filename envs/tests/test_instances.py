"""GET /v1/envs/ (the active instances), GET /v1/envs/{id}/ (one instance), DELETE /v1/envs/{id}/ (close it)."""

import uuid

import pytest
from django.utils import timezone

from envs.models import EnvInstance, Episode, InstanceStatus
from envs.runtime import runtime


def test_it_lists_active_instances_as_id_to_env_id(api, make_instance):
    cartpole = make_instance("CartPole-v1")
    lake = make_instance("FrozenLake-v1")
    response = api.get("/v1/envs/")
    assert response.status_code == 200
    assert response.json() == {cartpole: "CartPole-v1", lake: "FrozenLake-v1"}


def test_it_lists_nothing_when_there_are_no_instances(api, db):
    assert api.get("/v1/envs/").json() == {}
    assert api.get("/v1/envs").json() == {}


def test_it_leaves_closed_and_lost_instances_out_of_the_list(api, make_instance):
    kept = make_instance()
    api.delete(f"/v1/envs/{make_instance()}/")
    EnvInstance.objects.create(env_id="CartPole-v1", status=InstanceStatus.LOST)
    assert api.get("/v1/envs/").json() == {kept: "CartPole-v1"}


def test_it_describes_an_instance(api, make_instance):
    instance_id = make_instance("CartPole-v1", render_mode="rgb_array", seed=3)
    response = api.get(f"/v1/envs/{instance_id}/")
    assert response.status_code == 200
    body = response.json()
    assert body["instance_id"] == instance_id
    assert body["env_id"] == "CartPole-v1"
    assert body["render_mode"] == "rgb_array"
    assert body["status"] == "active"
    assert body["seed"] == 3
    assert body["kwargs"] == {}
    created = EnvInstance.objects.get(pk=instance_id).created_at
    assert timezone.datetime.fromisoformat(body["created"].replace("Z", "+00:00")) == created
    assert body["episodes"] == 0
    assert body["episode"] == {
        "number": 0, "steps": 0, "return": 0.0, "terminated": False, "truncated": False, "needs_reset": True
    }


def test_it_describes_the_spec(api, make_instance):
    instance_id = make_instance("CartPole-v1", max_episode_steps=50)
    spec = api.get(f"/v1/envs/{instance_id}/").json()["spec"]
    assert spec["id"] == "CartPole-v1"
    assert spec["max_episode_steps"] == 50  # this instance's, not the registry's 500
    assert spec["reward_threshold"] == 475.0
    assert spec["render_modes"] == ["rgb_array"]  # what it can be created with: never "human"
    assert spec["render_fps"] == 50


def test_it_counts_the_episodes_and_the_current_episode(api, make_instance):
    instance_id = make_instance(reset=True, reset_seed=1)
    api.post(f"/v1/envs/{instance_id}/reset/")
    for _ in range(3):
        api.post(f"/v1/envs/{instance_id}/step/", {"action": 1})
    body = api.get(f"/v1/envs/{instance_id}").json()
    assert body["episodes"] == 2
    assert body["episode"] == {
        "number": 2, "steps": 3, "return": 3.0, "terminated": False, "truncated": False, "needs_reset": False
    }


def test_it_says_when_the_current_episode_needs_a_reset(api, make_instance):
    instance_id = make_instance(reset=True, reset_seed=1)
    while not api.post(f"/v1/envs/{instance_id}/step/", {"action": 0}).json()["done"]:
        pass
    episode = api.get(f"/v1/envs/{instance_id}/").json()["episode"]
    assert episode["terminated"] and episode["needs_reset"]


def test_it_closes_an_instance(api, make_instance):
    instance_id = make_instance()
    response = api.delete(f"/v1/envs/{instance_id}/")
    assert response.status_code == 200
    assert response.json() == {"message": "Environment closed and deleted.", "instance_id": instance_id, "status": "closed"}
    instance = EnvInstance.objects.get(pk=instance_id)
    assert instance.status == InstanceStatus.CLOSED
    assert instance.closed_at is not None and instance.closed_at >= instance.created_at
    assert runtime.get(instance_id) is None


def test_it_closes_without_trailing_slash(api, make_instance):
    instance_id = make_instance()
    assert api.delete(f"/v1/envs/{instance_id}").status_code == 200
    assert EnvInstance.objects.get(pk=instance_id).status == InstanceStatus.CLOSED


def test_it_writes_the_episode_in_progress_when_closing(api, make_instance, settings):
    settings.GYMAPI_FLUSH_SECONDS = 3600
    instance_id = make_instance(reset=True, reset_seed=1)
    for _ in range(4):
        api.post(f"/v1/envs/{instance_id}/step/", {"action": 1})
    api.delete(f"/v1/envs/{instance_id}/")
    episode = Episode.objects.get(instance_id=instance_id, number=1)
    assert (episode.steps, episode.total_reward) == (4, 4.0)
    assert episode.ended_at is not None
    assert episode.outcome == "interrupted"


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("get", "", None),
        ("delete", "", None),
        ("post", "reset/", {}),
        ("post", "step/", {"action": 0}),
        ("get", "action_space/", None),
        ("get", "action_space/sample/", None),
        ("post", "observation_space/contains/", {"x": [0, 0, 0, 0]}),
    ],
)
def test_it_answers_410_for_a_closed_instance(api, make_instance, method, path, body):
    instance_id = make_instance(reset=True)
    api.delete(f"/v1/envs/{instance_id}/")
    response = getattr(api, method)(f"/v1/envs/{instance_id}/{path}", body)
    assert response.status_code == 410
    assert response.json()["code"] == "instance_closed"
    assert "was closed" in response.json()["detail"]


def test_it_answers_404_for_an_unknown_instance(api, db):
    unknown = uuid.uuid4()
    for method in ("get", "delete"):
        response = getattr(api, method)(f"/v1/envs/{unknown}/")
        assert response.status_code == 404
        assert response.json() == {"detail": f"Instance {unknown} is unknown.", "code": "instance_not_found"}


@pytest.mark.parametrize("malformed", ["not-a-uuid", "123", "x" * 500, "%20", "00000000-0000-0000-0000-00000000000g"])
def test_it_answers_404_for_a_malformed_id(api, db, malformed):
    for method, path in (("get", ""), ("delete", ""), ("post", "reset/"), ("get", "observation_space/")):
        response = getattr(api, method)(f"/v1/envs/{malformed}/{path}")
        assert response.status_code == 404, (method, path, response.content)
        assert response.json()["code"] == "instance_not_found"


def test_it_answers_410_for_an_instance_lost_in_a_restart(api, db):
    # Recorded active, but not live in this process: a previous process held it.
    instance = EnvInstance.objects.create(env_id="CartPole-v1")
    response = api.get(f"/v1/envs/{instance.id}/")
    assert response.status_code == 410
    assert response.json()["code"] == "instance_lost"
    assert "lost when the server restarted" in response.json()["detail"]
    instance.refresh_from_db()
    assert instance.status == InstanceStatus.LOST and instance.closed_at is not None


def test_it_answers_410_for_an_instance_marked_lost(api, db):
    instance = EnvInstance.objects.create(env_id="CartPole-v1", status=InstanceStatus.LOST)
    for method in ("get", "delete"):
        response = getattr(api, method)(f"/v1/envs/{instance.id}/")
        assert response.status_code == 410
        assert response.json()["code"] == "instance_lost"
