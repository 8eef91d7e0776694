"""POST /v1/envs/ {"env_id", "render_mode"?, "seed"?, "kwargs"?, "max_episode_steps"?} -> {"instance_id"} (201)."""

import uuid

import pytest

from envs.models import EnvInstance, InstanceStatus
from envs.runtime import runtime


def create(api, body, path="/v1/envs/"):
    return api.post(path, body)


def assert_refused(api, body, field, code=None):
    """A 400 naming ``field`` that leaves no record and no live environment behind."""
    response = create(api, body)
    assert response.status_code == 400, response.content
    error = response.json()
    assert field in error["fields"], error
    assert field in error["detail"]
    if code is not None:
        assert error["code"] == code
    assert EnvInstance.objects.count() == 0
    assert runtime.ids() == []
    return error


def test_it_creates_an_instance_and_answers_its_id(api, db):
    response = create(api, {"env_id": "CartPole-v1"})
    assert response.status_code == 201
    assert set(response.json()) == {"instance_id"}
    instance_id = response.json()["instance_id"]
    instance = EnvInstance.objects.get(pk=uuid.UUID(instance_id))
    assert (instance.env_id, instance.status, instance.render_mode, instance.seed) == (
        "CartPole-v1", InstanceStatus.ACTIVE, None, None
    )
    assert instance.kwargs == {}
    assert instance.max_episode_steps == 500  # the spec's
    assert runtime.ids() == [instance_id]


def test_it_answers_without_trailing_slash(api, db):
    response = create(api, {"env_id": "CartPole-v1"}, path="/v1/envs")
    assert response.status_code == 201
    assert EnvInstance.objects.filter(pk=response.json()["instance_id"]).exists()


def test_it_keeps_the_render_mode(api, db):
    instance_id = create(api, {"env_id": "CartPole-v1", "render_mode": "rgb_array"}).json()["instance_id"]
    assert EnvInstance.objects.get(pk=instance_id).render_mode == "rgb_array"
    assert runtime.get(instance_id).render_mode == "rgb_array"


def test_it_refuses_a_render_mode_the_env_does_not_offer(api, db):
    error = assert_refused(api, {"env_id": "CartPole-v1", "render_mode": "ansi"}, "render_mode")
    assert "rgb_array" in error["detail"]  # names the modes it has


@pytest.mark.parametrize(
    "env_id, offered",
    [
        ("CartPole-v1", "['rgb_array', 'rgb_array_list']"),
        ("FrozenLake-v1", "['ansi', 'rgb_array', 'ansi_list', 'rgb_array_list']"),
        ("LunarLander-v3", "['rgb_array', 'rgb_array_list']"),
        # MuJoCo's window aborts the whole process (a glfw assertion) at the first reset.
        ("Hopper-v5", "['rgb_array', 'depth_array', 'rgbd_tuple', 'rgb_array_list', 'depth_array_list', 'rgbd_tuple_list']"),
        ("Ant-v5", "['rgb_array', 'depth_array', 'rgbd_tuple', 'rgb_array_list', 'depth_array_list', 'rgbd_tuple_list']"),
        ("ALE/Pong-v5", "['rgb_array', 'rgb_array_list']"),
        ("MiniGrid-Empty-5x5-v0", "['rgb_array', 'rgb_array_list']"),
    ],
)
def test_it_refuses_human_rendering_naming_the_modes_it_offers(api, db, env_id, offered):
    error = assert_refused(api, {"env_id": env_id, "render_mode": "human"}, "render_mode")
    message = error["fields"]["render_mode"][0]
    assert "window on the server" in message
    assert offered in message


def test_it_seeds_the_first_reset_with_the_creation_seed(api, db):
    first = create(api, {"env_id": "CartPole-v1", "seed": 7}).json()["instance_id"]
    second = create(api, {"env_id": "CartPole-v1", "seed": 7}).json()["instance_id"]
    assert EnvInstance.objects.get(pk=first).seed == 7
    observations = [api.post(f"/v1/envs/{i}/reset/").json()["observation"] for i in (first, second)]
    assert observations[0] == observations[1]


def test_it_seeds_the_action_space_samples_with_the_creation_seed(api, db):
    ids = [create(api, {"env_id": "Pendulum-v1", "seed": 11}).json()["instance_id"] for _ in range(2)]
    samples = [[api.get(f"/v1/envs/{i}/action_space/sample/").json()["action"] for _ in range(3)] for i in ids]
    assert samples[0] == samples[1]


def test_it_passes_kwargs_to_the_constructor(api, db):
    instance_id = create(api, {"env_id": "FrozenLake-v1", "kwargs": {"map_name": "8x8", "is_slippery": False}}).json()[
        "instance_id"
    ]
    assert EnvInstance.objects.get(pk=instance_id).kwargs == {"map_name": "8x8", "is_slippery": False}
    assert api.get(f"/v1/envs/{instance_id}/observation_space/").json()["n"] == 64


def test_it_refuses_an_unknown_kwarg_naming_it(api, db):
    error = assert_refused(api, {"env_id": "CartPole-v1", "kwargs": {"gravity": 1.0}}, "kwargs.gravity")
    assert "sutton_barto_reward" in error["detail"]  # what CartPole does take


def test_it_refuses_kwargs_that_name_files_on_the_server(api, db):
    assert_refused(api, {"env_id": "HalfCheetah-v5", "kwargs": {"xml_file": "/etc/passwd"}}, "kwargs.xml_file")


def test_it_refuses_gym_make_keywords_in_kwargs(api, db):
    error = assert_refused(api, {"env_id": "CartPole-v1", "kwargs": {"render_mode": "rgb_array"}}, "kwargs.render_mode")
    assert "top-level field" in error["detail"]


def test_it_refuses_kwargs_that_are_not_an_object(api, db):
    for kwargs in ([1, 2], "map_name=8x8", 3):
        assert_refused(api, {"env_id": "FrozenLake-v1", "kwargs": kwargs}, "kwargs")


def test_it_turns_a_constructor_error_into_a_400_with_nothing_left_behind(api, db):
    # A kwarg the constructor takes, with a value it cannot use.
    response = create(api, {"env_id": "FrozenLake-v1", "kwargs": {"map_name": "9x9"}})
    assert response.status_code == 400
    assert response.json()["code"] == "env_error"
    assert "FrozenLake-v1" in response.json()["detail"]
    assert EnvInstance.objects.count() == 0 and runtime.ids() == []


def test_it_sets_max_episode_steps(api, db):
    instance_id = create(api, {"env_id": "CartPole-v1", "max_episode_steps": 3}).json()["instance_id"]
    assert EnvInstance.objects.get(pk=instance_id).max_episode_steps == 3
    api.post(f"/v1/envs/{instance_id}/reset/", {"seed": 0})
    bodies = [api.post(f"/v1/envs/{instance_id}/step/", {"action": 0}).json() for _ in range(3)]
    assert [body["truncated"] for body in bodies] == [False, False, True]


def test_it_refuses_a_max_episode_steps_below_one(api, db):
    for value in (0, -5):
        assert_refused(api, {"env_id": "CartPole-v1", "max_episode_steps": value}, "max_episode_steps")


@pytest.mark.parametrize(
    "field, value",
    [
        ("env_id", 5),
        ("env_id", ["CartPole-v1"]),
        ("render_mode", ["rgb_array"]),
        ("seed", "7"),
        ("seed", 1.5),
        ("seed", True),
        ("seed", -1),
        ("seed", 2**64),
        ("max_episode_steps", "many"),
        ("max_episode_steps", [3]),
    ],
)
def test_it_refuses_a_field_of_the_wrong_type_naming_it(api, db, field, value):
    body = {"env_id": "CartPole-v1", field: value}
    error = assert_refused(api, body, field)
    assert set(error) == {"detail", "code", "fields"}


@pytest.mark.parametrize("path", ["/v1/envs/", "/v1/vector_envs/"])
@pytest.mark.parametrize("value", ["1", True, "0.5", [1]])
def test_it_refuses_a_num_cpus_that_is_not_a_number_before_asking_the_runtime(api, db, path, value):
    # Read as 1.0 (or 0.5), it would pass the type check and be refused here only for the local runtime.
    body = {"env_id": "CartPole-v1", **({"num_envs": 2} if "vector" in path else {})}
    response = create(api, {**body, "num_cpus": value}, path)
    assert response.status_code == 400 and response.json()["fields"] == {"num_cpus": ["A valid number is required."]}
    assert EnvInstance.objects.count() == 0 and runtime.ids() == []
    number = create(api, {**body, "num_cpus": 1}, path).json()  # a number passes, to the runtime's own check
    assert "only on the Ray runtime" in number["fields"]["num_cpus"][0]


def test_it_refuses_a_module_colon_name_id(api, db):
    error = assert_refused(api, {"env_id": "os:system"}, "env_id", code="env_id_not_allowed")
    assert "module:Name" in error["detail"]


def test_it_refuses_a_module_colon_name_id_even_for_a_registered_entry_point(api, db):
    assert_refused(api, {"env_id": "gymnasium.envs.classic_control:CartPole-v1"}, "env_id", code="env_id_not_allowed")


def test_it_refuses_an_unknown_id_suggesting_close_registered_ids(api, db):
    error = assert_refused(api, {"env_id": "CartPole-v2"}, "env_id", code="unknown_env_id")
    assert "CartPole-v1" in error["detail"]
    assert "/v1/registry/" in error["detail"]


def test_it_suggests_ids_whatever_the_case(api, db):
    error = assert_refused(api, {"env_id": "cartpole-v1"}, "env_id", code="unknown_env_id")
    assert "CartPole-v1" in error["detail"]


def test_it_refuses_an_empty_env_id(api, db):
    assert_refused(api, {"env_id": ""}, "env_id")


@pytest.mark.parametrize("body", [None, {}, {"seed": 1}])
def test_it_refuses_a_body_without_env_id_naming_it(api, db, body):
    error = assert_refused(api, body, "env_id", code="invalid")
    assert error["fields"]["env_id"]


def test_it_refuses_an_empty_body_naming_env_id(api, db):
    response = api.generic("POST", "/v1/envs/", "", content_type="application/json")
    assert response.status_code == 400
    assert "env_id" in response.json()["fields"]
    assert EnvInstance.objects.count() == 0


@pytest.mark.slow
def test_it_creates_an_atari_environment(api, db):
    response = create(api, {"env_id": "ALE/Pong-v5", "seed": 0})
    assert response.status_code == 201, response.content
    instance_id = response.json()["instance_id"]
    assert api.get(f"/v1/envs/{instance_id}/action_space/").json()["n"] == 6


def test_it_creates_a_minigrid_environment(api, db):
    response = create(api, {"env_id": "MiniGrid-Empty-5x5-v0", "kwargs": {"max_steps": 10}})
    assert response.status_code == 201, response.content
    instance_id = response.json()["instance_id"]
    assert api.post(f"/v1/envs/{instance_id}/reset/").status_code == 200
    assert api.get(f"/v1/envs/{instance_id}/observation_space/").json()["name"] == "Dict"


def test_it_refuses_kwargs_holding_values_that_are_not_json(api, db):
    # NaN is not JSON: a body carrying it is refused before the constructor sees it.
    body = '{"env_id": "FrozenLake-v1", "kwargs": {"is_slippery": NaN}}'
    response = api.generic("POST", "/v1/envs/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert EnvInstance.objects.count() == 0 and runtime.ids() == []
