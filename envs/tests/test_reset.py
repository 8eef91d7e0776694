"""POST /v1/envs/{id}/reset/ {"seed"?, "options"?} -> {"observation", "info"}; each reset opens an episode record."""

import pytest

from envs.models import Episode


def reset(api, instance_id, body=None, slash="/"):
    return api.post(f"/v1/envs/{instance_id}/reset{slash}", body)


def test_it_resets_and_answers_the_observation_and_info(api, make_instance):
    instance_id = make_instance()
    response = reset(api, instance_id, {})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"observation", "info"}
    assert len(body["observation"]) == 4 and all(isinstance(value, float) for value in body["observation"])
    assert body["info"] == {}


def test_it_answers_without_trailing_slash(api, make_instance):
    assert reset(api, make_instance(), {}, slash="").status_code == 200


@pytest.mark.parametrize("body", [None, {}, {"seed": None, "options": None}])
def test_it_accepts_a_body_with_nothing_required(api, make_instance, body):
    assert reset(api, make_instance(), body).status_code == 200


def test_it_accepts_an_empty_body(api, make_instance):
    instance_id = make_instance()
    response = api.generic("POST", f"/v1/envs/{instance_id}/reset/", "", content_type="application/json")
    assert response.status_code == 200


def test_it_gives_the_same_observation_for_the_same_seed(api, make_instance):
    first, second = make_instance(), make_instance()
    observations = [reset(api, i, {"seed": 42}).json()["observation"] for i in (first, second)]
    assert observations[0] == observations[1]
    assert reset(api, first, {"seed": 42}).json()["observation"] == observations[0]  # again, on the same instance


def test_it_gives_another_observation_for_another_seed(api, make_instance):
    instance_id = make_instance()
    assert reset(api, instance_id, {"seed": 1}).json() != reset(api, instance_id, {"seed": 2}).json()


def test_it_continues_the_random_stream_without_a_seed(api, make_instance):
    instance_id = make_instance()
    seeded = reset(api, instance_id, {"seed": 5}).json()["observation"]
    assert reset(api, instance_id).json()["observation"] != seeded


def test_it_accepts_the_largest_seed(api, make_instance):
    assert reset(api, make_instance(), {"seed": 2**63 - 1}).status_code == 200


def test_it_passes_options_to_the_environment(api, make_instance):
    # CartPole draws its initial state from options' [low, high].
    response = reset(api, make_instance(), {"seed": 0, "options": {"low": 0.0, "high": 0.0}})
    assert response.json()["observation"] == [0.0, 0.0, 0.0, 0.0]


@pytest.mark.parametrize("seed", [-1, "7", "seven", True, 1.5, [1], {"seed": 1}, 2**64])
def test_it_refuses_a_bad_seed_naming_it(api, make_instance, seed):
    instance_id = make_instance()
    response = reset(api, instance_id, {"seed": seed})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["fields"]) == ["seed"]
    assert "seed" in body["detail"]
    assert Episode.objects.filter(instance_id=instance_id).count() == 0


@pytest.mark.parametrize("options", [[1, 2], "low=0", 3, True])
def test_it_refuses_options_that_are_not_an_object(api, make_instance, options):
    instance_id = make_instance()
    response = reset(api, instance_id, {"options": options})
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["options"]
    assert Episode.objects.filter(instance_id=instance_id).count() == 0


def test_it_turns_options_the_environment_rejects_into_a_400(api, make_instance):
    instance_id = make_instance()
    response = reset(api, instance_id, {"options": {"low": "zero"}})
    assert response.status_code == 400
    assert response.json()["code"] == "env_error"
    assert "CartPole-v1" in response.json()["detail"]
    assert api.get(f"/v1/envs/{instance_id}/").json()["episodes"] == 0


def step(api, instance_id):
    assert api.post(f"/v1/envs/{instance_id}/step/", {"action": 0}).status_code == 200


def test_it_records_an_episode_per_reset_with_its_number_and_seed(api, make_instance):
    instance_id = make_instance()
    reset(api, instance_id, {"seed": 3})
    step(api, instance_id)
    reset(api, instance_id)
    step(api, instance_id)
    reset(api, instance_id, {"seed": 9})
    # Rows are written as episodes end; the running one is shown from memory.
    episodes = list(Episode.objects.filter(instance_id=instance_id).values_list("number", "seed"))
    assert episodes == [(1, 3), (2, None)]
    listed = api.get(f"/v1/envs/{instance_id}/episodes/").json()["episodes"]
    assert [(e["number"], e["seed"], e["outcome"]) for e in listed] == [
        (1, 3, "interrupted"), (2, None, "interrupted"), (3, 9, "running")
    ]


def test_a_reset_storm_writes_no_row_for_episodes_that_took_no_step(api, make_instance):
    instance_id = make_instance()
    for _ in range(50):
        reset(api, instance_id)
    step(api, instance_id)
    reset(api, instance_id)
    # Only the episode that took a step has a row, and the instance's first, which says that a reset
    # was answered (GYMAPI_RESUME: README, Restarts); the others are counted, not written.
    assert list(Episode.objects.filter(instance_id=instance_id).values_list("number", "steps")) == [(1, 0), (50, 1)]
    assert api.get(f"/v1/envs/{instance_id}/").json()["episodes"] == 51


def test_it_records_the_creation_seed_on_the_first_episode(api, make_instance):
    instance_id = make_instance(seed=7)
    reset(api, instance_id)
    step(api, instance_id)
    reset(api, instance_id)
    step(api, instance_id)
    reset(api, instance_id)
    episodes = list(Episode.objects.filter(instance_id=instance_id).values_list("number", "seed"))
    assert episodes == [(1, 7), (2, None)]


def test_it_ends_the_episode_it_interrupts(api, make_instance, settings):
    settings.GYMAPI_FLUSH_SECONDS = 3600
    instance_id = make_instance(reset=True, reset_seed=1)
    for _ in range(2):
        api.post(f"/v1/envs/{instance_id}/step/", {"action": 1})
    reset(api, instance_id)
    first = Episode.objects.get(instance_id=instance_id, number=1)
    assert (first.steps, first.total_reward, first.outcome) == (2, 2.0, "interrupted")
    assert not Episode.objects.filter(instance_id=instance_id, number=2).exists()  # no row until it ends
    second = api.get(f"/v1/envs/{instance_id}/episodes/").json()["episodes"][-1]
    assert (second["number"], second["steps"], second["ended"], second["outcome"]) == (2, 0, None, "running")


def test_it_lets_a_finished_episode_be_followed_by_a_new_one(api, make_instance):
    instance_id = make_instance(reset=True, reset_seed=1)
    while not api.post(f"/v1/envs/{instance_id}/step/", {"action": 0}).json()["done"]:
        pass
    assert reset(api, instance_id).status_code == 200
    assert api.post(f"/v1/envs/{instance_id}/step/", {"action": 0}).status_code == 200
    assert Episode.objects.get(instance_id=instance_id, number=1).outcome == "terminated"
