"""Server errors arrive as typed exceptions carrying the server's detail, code, fields and status."""

import pytest
import requests

from gymapi_client import (
    GymapiError,
    InstanceGone,
    InvalidRequest,
    NotFound,
    RemoteEnv,
    ResetNeeded,
    ServerUnreachable,
)
from gymapi.testing.server import free_port


def test_it_raises_invalid_request_for_an_unknown_env_id(url):
    with pytest.raises(InvalidRequest) as caught:
        RemoteEnv(url, "CartPol-v1")
    error = caught.value
    assert error.status == 400 and error.code == "unknown_env_id"
    assert "Did you mean CartPole-v1" in error.detail and "env_id" in error.fields
    assert isinstance(error, GymapiError) and isinstance(error, ValueError)


def test_it_raises_invalid_request_naming_the_space_for_a_wrong_action(remote):
    env = remote("CartPole-v1")
    env.reset(seed=0)
    with pytest.raises(InvalidRequest) as caught:
        env.step(5)
    error = caught.value
    assert error.code == "invalid_action" and "Discrete(2)" in error.detail
    assert list(error.fields) == ["action"]
    assert "Discrete(2)" in str(error) and "400" in str(error)


def test_it_raises_invalid_request_for_a_kwarg_the_environment_does_not_take(url):
    with pytest.raises(InvalidRequest) as caught:
        RemoteEnv(url, "CartPole-v1", gravity=3.0)
    assert "kwargs.gravity" in caught.value.fields


def test_it_raises_reset_needed_before_the_first_reset_and_after_the_end(remote):
    env = remote("CartPole-v1", max_episode_steps=1)
    with pytest.raises(ResetNeeded) as caught:
        env.step(0)
    assert caught.value.code == "reset_needed" and isinstance(caught.value, InvalidRequest)
    env.reset(seed=0)
    assert env.step(0)[3] is True
    with pytest.raises(ResetNeeded, match="call reset"):
        env.step(0)


def test_it_raises_instance_gone_once_closed(remote):
    env = remote("CartPole-v1")
    env.close()
    with pytest.raises(InstanceGone) as caught:
        env.reset()
    assert caught.value.status == 410 and caught.value.code == "instance_closed"
    assert env.instance_id in caught.value.detail


def test_it_raises_not_found_for_an_instance_the_server_never_had(remote, url):
    env = remote("CartPole-v1")
    requests.delete(f"{url}/v1/envs/{env.instance_id}/", timeout=10)
    env.instance_id = "00000000-0000-0000-0000-000000000000"
    with pytest.raises(NotFound) as caught:
        env.reset()
    assert caught.value.status == 404 and caught.value.code == "instance_not_found"
    env.close()  # nothing to close: quietly done


def test_it_raises_server_unreachable_when_no_server_answers():
    with pytest.raises(ServerUnreachable, match="cannot reach a gymapi server") as caught:
        RemoteEnv(f"http://127.0.0.1:{free_port()}", "CartPole-v1", timeout=5)
    assert caught.value.status is None


def test_it_refuses_human_rendering_which_would_draw_on_the_server(url):
    with pytest.raises(ValueError, match="rgb_array"):
        RemoteEnv(url, "CartPole-v1", render_mode="human")
