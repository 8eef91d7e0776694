"""GET /v1/envs/{id}/action_space/ and .../observation_space/ (the space's full description),
GET .../action_space/sample/ -> {"action"}, POST .../action_space/contains/ and
.../observation_space/contains/ {"x"} -> {"member"}.

Membership means "the codec accepts x as a value of the space": any JSON value
gets an answer, true or false; only a missing (or null) x is a 400.
"""

import pytest

SPACES = ("action_space", "observation_space")


def contains(api, instance_id, which, x):
    response = api.post(f"/v1/envs/{instance_id}/{which}/contains/", {"x": x})
    assert response.status_code == 200, response.content
    assert set(response.json()) == {"member"}
    return response.json()["member"]


def test_it_describes_a_discrete_space(api, make_instance):
    response = api.get(f"/v1/envs/{make_instance('CartPole-v1')}/action_space/")
    assert response.status_code == 200
    assert response.json() == {"name": "Discrete", "n": 2, "start": 0, "dtype": "int64"}


def test_it_describes_a_box_space_with_infinite_bounds_as_strings(api, make_instance):
    body = api.get(f"/v1/envs/{make_instance('CartPole-v1')}/observation_space/").json()
    assert (body["name"], body["dtype"], body["shape"]) == ("Box", "float32", [4])
    assert body["low"][1] == "-Infinity" and body["high"][1] == "Infinity"
    assert body["high"][0] == pytest.approx(4.8)


def test_it_describes_a_continuous_action_space(api, make_instance):
    body = api.get(f"/v1/envs/{make_instance('Pendulum-v1')}/action_space/").json()
    assert body == {"name": "Box", "dtype": "float32", "shape": [1], "low": [-2.0], "high": [2.0]}


def test_it_describes_a_tuple_space(api, make_instance):
    body = api.get(f"/v1/envs/{make_instance('Blackjack-v1')}/observation_space/").json()
    assert body["name"] == "Tuple"
    assert [(space["name"], space["n"]) for space in body["spaces"]] == [("Discrete", 32), ("Discrete", 11), ("Discrete", 2)]


def test_it_describes_a_dict_space_with_its_keys_in_order_and_an_unknown_class_by_name(api, make_instance):
    body = api.get(f"/v1/envs/{make_instance('MiniGrid-Empty-5x5-v0')}/observation_space/").json()
    assert body["name"] == "Dict"
    assert body["keys"] == ["direction", "image", "mission"]
    assert body["spaces"]["image"]["shape"] == [7, 7, 3]
    assert body["spaces"]["direction"] == {"name": "Discrete", "n": 4, "start": 0, "dtype": "int64"}
    assert body["spaces"]["mission"]["name"] == "MissionSpace"
    assert body["spaces"]["mission"]["known"] is False


def test_it_answers_without_trailing_slash(api, make_instance):
    instance_id = make_instance()
    for which in SPACES:
        assert api.get(f"/v1/envs/{instance_id}/{which}").status_code == 200
    assert api.get(f"/v1/envs/{instance_id}/action_space/sample").status_code == 200
    assert api.post(f"/v1/envs/{instance_id}/action_space/contains", {"x": 0}).status_code == 200


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1", "Blackjack-v1", "MiniGrid-Empty-5x5-v0"])
def test_it_samples_an_action_within_the_space(api, make_instance, env_id):
    instance_id = make_instance(env_id)
    for _ in range(5):
        response = api.get(f"/v1/envs/{instance_id}/action_space/sample/")
        assert response.status_code == 200
        assert set(response.json()) == {"action"}
        assert contains(api, instance_id, "action_space", response.json()["action"])


def test_it_samples_within_the_bounds_of_a_box(api, make_instance):
    instance_id = make_instance("Pendulum-v1")
    for _ in range(10):
        (value,) = api.get(f"/v1/envs/{instance_id}/action_space/sample/").json()["action"]
        assert -2.0 <= value <= 2.0


def test_it_samples_before_any_reset(api, make_instance):
    # Sampling needs no episode: an agent may pick its first action before resetting.
    assert api.get(f"/v1/envs/{make_instance()}/action_space/sample/").status_code == 200


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1", "Blackjack-v1", "MiniGrid-Empty-5x5-v0"])
def test_it_counts_an_observation_it_gave_as_a_member(api, make_instance, env_id):
    instance_id = make_instance(env_id)
    observation = api.post(f"/v1/envs/{instance_id}/reset/", {"seed": 0}).json()["observation"]
    assert contains(api, instance_id, "observation_space", observation)


def test_it_answers_membership_of_a_discrete_space(api, make_instance):
    instance_id = make_instance()
    assert contains(api, instance_id, "action_space", 0)
    assert contains(api, instance_id, "action_space", 1)
    for outside in (2, -1, 1.5, 10**30):
        assert not contains(api, instance_id, "action_space", outside), outside


def test_it_answers_membership_of_a_box_space(api, make_instance):
    instance_id = make_instance("Pendulum-v1")
    assert contains(api, instance_id, "action_space", [1.5])
    assert contains(api, instance_id, "observation_space", [1.0, 0.0, -8.0])
    assert not contains(api, instance_id, "action_space", [2.5])
    assert not contains(api, instance_id, "action_space", ["NaN"])
    assert not contains(api, instance_id, "observation_space", [1.0, 0.0])
    assert not contains(api, instance_id, "observation_space", [1.0, 0.0, 9.0])


def test_it_answers_membership_of_a_tuple_space(api, make_instance):
    instance_id = make_instance("Blackjack-v1")
    assert contains(api, instance_id, "observation_space", [14, 10, 0])
    assert not contains(api, instance_id, "observation_space", [14, 10])
    assert not contains(api, instance_id, "observation_space", [14, 11, 0])
    assert not contains(api, instance_id, "observation_space", {"0": 14, "1": 10, "2": 0})


def test_it_answers_membership_of_a_dict_space(api, make_instance):
    instance_id = make_instance("MiniGrid-Empty-5x5-v0")
    observation = api.post(f"/v1/envs/{instance_id}/reset/", {"seed": 0}).json()["observation"]
    missing_key = {key: value for key, value in observation.items() if key != "direction"}
    assert not contains(api, instance_id, "observation_space", missing_key)
    assert not contains(api, instance_id, "observation_space", {**observation, "direction": 4})
    assert not contains(api, instance_id, "observation_space", list(observation.values()))


@pytest.mark.parametrize("which", SPACES)
@pytest.mark.parametrize("malformed", ["1", "a string", True, False, {"a": 1}, [[1, 2]], [], "Infinity", [None]])
def test_it_answers_false_for_a_json_value_of_the_wrong_kind(api, make_instance, which, malformed):
    assert not contains(api, make_instance(), which, malformed)


@pytest.mark.parametrize("which", SPACES)
@pytest.mark.parametrize("body", [{}, None, {"y": 0}, {"x": None}])
def test_it_refuses_a_missing_x_naming_it(api, make_instance, which, body):
    response = api.post(f"/v1/envs/{make_instance()}/{which}/contains/", body)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert list(response.json()["fields"]) == ["x"]


@pytest.mark.parametrize("which", SPACES)
def test_it_refuses_x_nested_too_deeply_to_parse(api, make_instance, which):
    body = '{"x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = api.generic("POST", f"/v1/envs/{make_instance()}/{which}/contains/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_it_only_samples_the_action_space(api, make_instance):
    instance_id = make_instance()
    assert api.get(f"/v1/envs/{instance_id}/observation_space/sample/").status_code == 404


@pytest.mark.parametrize(
    "method, path",
    [("get", "action_space/"), ("get", "observation_space/"), ("get", "action_space/sample/"), ("post", "action_space/contains/")],
)
def test_it_answers_404_for_an_unknown_instance(api, db, method, path):
    response = getattr(api, method)(f"/v1/envs/00000000-0000-0000-0000-000000000000/{path}", {"x": 0})
    assert response.status_code == 404
    assert response.json()["code"] == "instance_not_found"
