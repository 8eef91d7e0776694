"""Legacy mode: reset and step with the bodies the older clients send."""

import pytest

from envs.models import Episode


def test_it_resets_with_a_null_body(legacy):
    instance_id = legacy.create()

    response = legacy.post(f"/v1/envs/{instance_id}/reset/", None)

    assert response.status_code == 200
    observation = response.json()["observation"]
    assert len(observation) == 4 and all(isinstance(value, float) for value in observation)


def test_it_resets_with_an_empty_object(legacy):
    # Go's binding sends {} where Python's sends null.
    instance_id = legacy.create()

    response = legacy.post(f"/v1/envs/{instance_id}/reset/", {})

    assert response.status_code == 200
    assert len(response.json()["observation"]) == 4


@pytest.mark.parametrize("body", ['""', "[]", "[1, 2]", "0", "true", '"reset"', "", "{not json"])
def test_it_resets_with_any_body_as_the_older_server_did(legacy, body):
    # Its Ruby and Lua bindings send "", Matlab's []: the older server never read the body.
    instance_id = legacy.create()

    response = legacy.client.post(f"/v1/envs/{instance_id}/reset/", data=body, content_type="application/json")

    assert response.status_code == 200, response.content
    assert len(response.json()["observation"]) == 4


def test_a_reset_body_that_is_an_object_may_still_seed_it(legacy):
    first, second = legacy.create(), legacy.create()
    one = legacy.post(f"/v1/envs/{first}/reset/", {"seed": 3}).json()["observation"]
    assert legacy.post(f"/v1/envs/{second}/reset/", {"seed": 3}).json()["observation"] == one


@pytest.mark.parametrize("route", ["close/", "monitor/close/"])
@pytest.mark.parametrize("body", ['""', "[]", "", "{not json"])
def test_routes_that_never_read_a_body_take_any(legacy, route, body):
    instance_id = legacy.create()

    response = legacy.client.post(f"/v1/envs/{instance_id}/{route}", data=body, content_type="application/json")

    assert response.status_code == 204, response.content


@pytest.mark.parametrize("render", [False, True])
def test_it_steps_with_action_and_render(legacy, render):
    instance_id = legacy.create()
    legacy.post(f"/v1/envs/{instance_id}/reset/", None)

    response = legacy.post(f"/v1/envs/{instance_id}/step/", {"action": 1, "render": render})

    assert response.status_code == 200
    body = response.json()
    assert {"observation", "reward", "done", "info"} <= set(body)
    assert len(body["observation"]) == 4
    assert body["reward"] == 1.0
    assert body["done"] is False
    assert body["info"] == {}


def test_it_says_done_at_the_end_of_an_episode(legacy):
    instance_id = legacy.create()
    legacy.post(f"/v1/envs/{instance_id}/reset/", None)

    dones = []
    for _ in range(100):  # always pushing left, the pole falls within a few dozen steps
        body = legacy.post(f"/v1/envs/{instance_id}/step/", {"action": 0, "render": False}).json()
        dones.append(body["done"])
        if body["done"]:
            break

    assert dones[-1] is True and not any(dones[:-1])
    assert body["terminated"] is True
    assert Episode.objects.get(instance_id=instance_id).steps == len(dones)


def test_it_steps_a_box_action(legacy):
    instance_id = legacy.create("Pendulum-v1")
    legacy.post(f"/v1/envs/{instance_id}/reset/", None)

    response = legacy.post(f"/v1/envs/{instance_id}/step/", {"action": [0.5], "render": False})

    assert response.status_code == 200
    assert len(response.json()["observation"]) == 3


@pytest.mark.parametrize(
    "body, words",
    [
        ({"action": 5, "render": False}, "Discrete(2)"),
        ({"action": None, "render": False}, "action"),
        ({"render": False}, "action"),
        (None, "action"),
    ],
)
def test_it_refuses_a_wrong_action_with_a_message(legacy, body, words):
    instance_id = legacy.create()
    legacy.post(f"/v1/envs/{instance_id}/reset/", None)

    response = legacy.post(f"/v1/envs/{instance_id}/step/", body)

    assert response.status_code == 400
    assert words in response.json()["message"]


def test_it_says_to_reset_before_the_first_step(legacy):
    instance_id = legacy.create()

    response = legacy.post(f"/v1/envs/{instance_id}/step/", {"action": 0, "render": False})

    assert response.status_code == 400
    assert "reset" in response.json()["message"]
