"""Legacy mode: creating, listing and closing instances; errors and routes."""

import uuid

import pytest

from envs.models import EnvInstance, InstanceStatus


def test_it_creates_an_instance(legacy):
    response = legacy.post("/v1/envs/", {"env_id": "CartPole-v1"})

    assert response.status_code == 200
    instance_id = response.json()["instance_id"]
    instance = EnvInstance.objects.get(pk=instance_id)
    assert instance.env_id == "CartPole-v1"
    assert instance.render_mode == "rgb_array"  # so that a monitor can record it


def test_it_lists_instances_under_all_envs(legacy):
    first = legacy.create("CartPole-v1")
    second = legacy.create("Pendulum-v1")

    response = legacy.get("/v1/envs/")

    assert response.status_code == 200
    assert response.json() == {"all_envs": {first: "CartPole-v1", second: "Pendulum-v1"}}


def test_it_seeds_at_creation(legacy):
    observations = []
    for _ in range(2):
        instance_id = legacy.create("CartPole-v1", seed=7)
        observations.append(legacy.post(f"/v1/envs/{instance_id}/reset/", None).json()["observation"])

    assert observations[0] == observations[1]


def test_it_refuses_an_unknown_env_id(legacy):
    response = legacy.post("/v1/envs/", {"env_id": "CartPol-v1"})

    assert response.status_code == 400
    assert "CartPol-v1" in response.json()["message"]
    assert EnvInstance.objects.count() == 0


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Hopper-v5"])
def test_it_refuses_human_rendering_which_would_draw_on_the_server(legacy, env_id):
    response = legacy.post("/v1/envs/", {"env_id": env_id, "render_mode": "human"})

    assert response.status_code == 400
    message = response.json()["message"]
    assert message.startswith("render_mode: ") and "window on the server" in message and "'rgb_array'" in message
    assert EnvInstance.objects.count() == 0


@pytest.mark.parametrize("body", [None, {}, {"env_id": ""}])
def test_it_requires_env_id(legacy, body):
    response = legacy.post("/v1/envs/", body)

    assert response.status_code == 400
    assert "env_id" in response.json()["message"]


def test_it_refuses_a_body_that_is_not_json(legacy):
    response = legacy.client.post("/v1/envs/", data="{env_id: CartPole-v1", content_type="application/json")

    assert response.status_code == 400
    assert "JSON parse error" in response.json()["message"]


def test_it_closes_an_instance(legacy):
    instance_id = legacy.create()

    response = legacy.post(f"/v1/envs/{instance_id}/close/", None)

    assert response.status_code == 204
    assert response.content == b""
    assert legacy.get("/v1/envs/").json() == {"all_envs": {}}
    assert EnvInstance.objects.get(pk=instance_id).status == InstanceStatus.CLOSED


def test_it_says_a_closed_instance_is_unknown(legacy):
    instance_id = legacy.create()
    legacy.post(f"/v1/envs/{instance_id}/close/", None)

    response = legacy.post(f"/v1/envs/{instance_id}/reset/", None)

    assert response.status_code == 400
    assert response.json() == {"message": f"Instance_id {instance_id} unknown (closed)"}


ROUTES = [
    ("post", "reset/", None),
    ("post", "step/", {"action": 0, "render": False}),
    ("get", "action_space/", None),
    ("get", "action_space/sample", None),
    ("get", "action_space/contains/1", None),
    ("get", "observation_space/", None),
    ("post", "observation_space/contains", {"name": "Box"}),
    ("post", "close/", None),
    ("post", "monitor/start/", {"directory": "tmp", "force": True, "resume": False, "video_callable": False}),
    ("post", "monitor/close/", None),
    ("get", "monitor/files/", None),
]


@pytest.mark.parametrize("method, route, body", ROUTES)
@pytest.mark.parametrize("instance_id", [str(uuid.uuid4()), "3c657dbc"])
def test_it_says_an_unknown_instance_id_is_unknown(legacy, method, route, body, instance_id):
    path = f"/v1/envs/{instance_id}/{route}"
    response = legacy.get(path) if method == "get" else legacy.post(path, body)

    assert response.status_code == 400
    assert response.json() == {"message": f"Instance_id {instance_id} unknown"}


@pytest.mark.parametrize("method, route, body", ROUTES)
def test_it_answers_with_and_without_a_trailing_slash(legacy, method, route, body):
    for path in (route.rstrip("/"), route.rstrip("/") + "/"):
        instance_id = legacy.create()
        legacy.post(f"/v1/envs/{instance_id}/reset/", None)
        if route.startswith("monitor/") and route != "monitor/start/":
            legacy.post(f"/v1/envs/{instance_id}/monitor/start/", {"directory": f"d-{instance_id}", "force": True})
        url = f"/v1/envs/{instance_id}/{path}"

        response = legacy.get(url) if method == "get" else legacy.post(url, body)

        assert response.status_code in (200, 204), (url, response.content)


def test_it_lists_and_creates_without_a_trailing_slash(legacy):
    response = legacy.post("/v1/envs", {"env_id": "CartPole-v1"})

    assert response.status_code == 200
    assert legacy.get("/v1/envs").json() == {"all_envs": {response.json()["instance_id"]: "CartPole-v1"}}


@pytest.mark.parametrize("method", ["get", "post"])
def test_it_answers_other_paths_with_a_message(legacy, method):
    # The older client's upload route: OpenAI's scoreboard it uploaded to is gone.
    response = getattr(legacy, method)("/v1/upload/")

    assert response.status_code == 404
    assert response.json() == {"message": f"No route {method.upper()} /v1/upload/"}


@pytest.mark.parametrize(
    "retired, current", [("FrozenLake-v0", "FrozenLake-v1"), ("LunarLander-v2", "LunarLander-v3"), ("Taxi-v3", "Taxi-v4")]
)
def test_a_retired_id_of_the_older_clients_is_served_as_its_current_version(legacy, caplog, retired, current):
    response = legacy.post("/v1/envs/", {"env_id": retired})
    assert response.status_code == 200 and response.json()["env_id"] == current
    assert f"{retired} is retired in Gymnasium: serving {current}" in caplog.text
    assert EnvInstance.objects.get(pk=response.json()["instance_id"]).env_id == current


def test_an_id_still_registered_is_served_as_asked_and_an_unknown_one_refused(legacy):
    assert legacy.post("/v1/envs/", {"env_id": "CartPole-v0"}).json()["env_id"] == "CartPole-v0"
    refused = legacy.post("/v1/envs/", {"env_id": "Nothing-v0"})
    assert refused.status_code == 400 and "Nothing-v0" in refused.json()["message"]
