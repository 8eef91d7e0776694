"""GET /v1/registry/?q= -> every environment id this server can create, with its spec."""

import gymnasium as gym
import pytest

SPEC_FIELDS = {"id", "namespace", "max_episode_steps", "reward_threshold", "nondeterministic", "render_modes", "kwargs"}


@pytest.fixture(scope="module")
def registry():
    from rest_framework.test import APIClient

    response = APIClient().get("/v1/registry/")
    assert response.status_code == 200
    return response.json()


def ids(entries):
    return [entry["id"] for entry in entries]


def test_it_lists_ids_with_their_specs(registry):
    assert len(registry) > 100
    assert all(set(entry) == SPEC_FIELDS for entry in registry)
    cartpole = next(entry for entry in registry if entry["id"] == "CartPole-v1")
    assert cartpole == {
        "id": "CartPole-v1",
        "namespace": None,
        "max_episode_steps": 500,
        "reward_threshold": 475.0,
        "nondeterministic": False,
        "render_modes": ["rgb_array"],
        "kwargs": {},
    }


def test_it_lists_the_render_modes_an_instance_can_be_created_with_never_human(registry):
    # "human" draws in a window on the server and is refused at creation.
    hopper = next(entry for entry in registry if entry["id"] == "Hopper-v5")
    assert hopper["render_modes"] == ["rgb_array", "depth_array", "rgbd_tuple"]
    assert not any("human" in (entry["render_modes"] or []) for entry in registry)


def test_it_lists_only_registered_ids_once_each(registry):
    listed = ids(registry)
    assert len(listed) == len(set(listed))
    assert set(listed) <= set(gym.registry)


def test_it_lists_the_classic_toy_text_box2d_and_mujoco_families(registry):
    assert {"Pendulum-v1", "FrozenLake-v1", "Taxi-v4", "LunarLander-v3", "HalfCheetah-v5"} <= set(ids(registry))


def test_it_includes_the_atari_namespace(registry):
    pong = next(entry for entry in registry if entry["id"] == "ALE/Pong-v5")
    assert pong["namespace"] == "ALE"
    assert "rgb_array" in pong["render_modes"]


def test_it_includes_minigrid(registry):
    empty = next(entry for entry in registry if entry["id"] == "MiniGrid-Empty-5x5-v0")
    assert empty["kwargs"] == {"size": 5}


def test_it_writes_an_infinite_reward_threshold_as_a_string(registry):
    # Strict JSON everywhere: thresholds are numbers, null, or "Infinity"-style strings.
    thresholds = {entry["reward_threshold"] for entry in registry}
    assert all(value is None or isinstance(value, (int, float)) or value in ("Infinity", "-Infinity", "NaN") for value in thresholds)


def test_it_filters_by_a_case_insensitive_substring(api):
    response = api.get("/v1/registry/", {"q": "cartPOLE"})
    assert response.status_code == 200
    assert ids(response.json()) == ["CartPole-v0", "CartPole-v1"]


def test_it_filters_on_the_namespace_too(api):
    listed = ids(api.get("/v1/registry/?q=ale/pong").json())
    assert "ALE/Pong-v5" in listed
    assert all(env_id.lower().startswith("ale/pong") for env_id in listed)


def test_it_answers_an_empty_list_when_nothing_matches(api):
    assert api.get("/v1/registry/?q=no-such-environment").json() == []


def test_it_lists_everything_for_an_empty_query(api, registry):
    assert ids(api.get("/v1/registry/?q=").json()) == ids(registry)


def test_it_answers_without_trailing_slash(api, registry):
    assert ids(api.get("/v1/registry").json()) == ids(registry)


def test_it_lists_ids_that_can_be_created(api, db):
    (lake,) = api.get("/v1/registry/?q=FrozenLake8x8").json()
    response = api.post("/v1/envs/", {"env_id": lake["id"]})
    assert response.status_code == 201


def test_an_unknown_id_is_answered_with_ids_that_can_be_created_here(api):
    response = api.post("/v1/envs/", {"env_id": "CartPol-v1"}, format="json")
    detail = response.json()["detail"]
    assert response.status_code == 400 and "CartPole-v1" in detail
    assert "phys2d/" not in detail  # registered by Gymnasium, but its package (jax) is not installed
