"""``transport="websocket"``: reset and step over the server's step socket.

The same agent gets the same episodes over either transport, the same typed
errors, and the same key rules; the socket is one connection, opened by the
first reset and closed with the environment.
"""

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from gymapi_client import (
    InstanceGone,
    InvalidRequest,
    NotFound,
    RemoteEnv,
    ResetNeeded,
    ServerUnreachable,
    StepSocket,
    Unauthorized,
)
from gymapi_client.env import call_server, shared_session
from gymapi_client.socket import step_path, ws_url_of


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1", "FrozenLake-v1"])
def test_it_plays_the_same_episode_as_http(remote, env_id):
    over_http, over_socket = remote(env_id, seed=7), remote(env_id, seed=7, transport="websocket")
    first_http, _ = over_http.reset()
    first_socket, _ = over_socket.reset()
    np.testing.assert_array_equal(first_http, first_socket)
    for _ in range(40):
        action = over_http.action_space.sample()
        assert over_socket.action_space.sample() == pytest.approx(action)  # both seeded alike
        by_http, by_socket = over_http.step(action), over_socket.step(action)
        np.testing.assert_array_equal(by_http[0], by_socket[0])
        assert by_http[1:4] == by_socket[1:4]
        assert type(by_socket[0]) is type(by_http[0]) and type(by_socket[1]) is float
        if by_http[2] or by_http[3]:
            break


def test_it_passes_gymnasiums_check_env(remote):
    check_env(remote("CartPole-v1", transport="websocket"), skip_render_check=True)


def test_it_raises_the_errors_http_raises(remote):
    env = remote("CartPole-v1", seed=1, max_episode_steps=2, transport="websocket")
    with pytest.raises(ResetNeeded):
        env.step(0)
    env.reset()
    with pytest.raises(InvalidRequest) as wrong:
        env.step(7)
    assert wrong.value.code == "invalid_action" and wrong.value.status == 400
    assert "Discrete(2)" in str(wrong.value)
    env.step(0)
    assert env.step(0)[3] is True  # truncated at 2 steps
    with pytest.raises(ResetNeeded):
        env.step(0)
    env.reset()  # the socket is still good after errors
    assert env.step(1)[1] == 1.0


def test_it_keeps_one_connection_and_closes_it_with_the_env(remote, url):
    env = remote("CartPole-v1", transport="websocket")
    assert env._socket is None  # nothing opened before the first reset
    env.reset()
    connection = env._socket
    for _ in range(5):
        env.step(0)
    assert env._socket is connection
    env.close()
    assert env._socket is None and env.closed
    assert connection._socket.fileno() == -1
    with pytest.raises(InstanceGone):  # deleted on the server, as over HTTP
        call_server(shared_session(), url, "GET", f"/v1/envs/{env.instance_id}/")


def test_it_says_so_when_the_instance_is_closed_elsewhere(remote, url):
    env = remote("CartPole-v1", transport="websocket")
    env.reset()
    call_server(shared_session(), url, "DELETE", f"/v1/envs/{env.instance_id}/")
    with pytest.raises((InstanceGone, ServerUnreachable)):
        env.step(0)


def test_it_refuses_an_unknown_transport(url):
    with pytest.raises(ValueError, match="transport must be one of http, websocket"):
        RemoteEnv(url, "CartPole-v1", transport="grpc")


def test_its_step_socket_speaks_the_protocol_directly(remote, url):
    env = remote("CartPole-v1", seed=5)
    connection = StepSocket(url, step_path(env.instance_id))
    try:
        reset = connection.call({"op": "reset", "id": 1})
        assert reset["id"] == 1 and len(reset["observation"]) == 4
        connection.send_text('{"op":"step","action":1}')
        assert '"reward":1.0' in connection.receive_text()
        with pytest.raises(InvalidRequest) as unknown:
            connection.call({"op": "jump"})
        assert unknown.value.fields == {"op": unknown.value.fields["op"]}
    finally:
        connection.close()


def test_it_reports_a_socket_route_that_does_not_exist(url):
    with pytest.raises(NotFound) as refused:
        StepSocket(url, "/ws/nowhere/", timeout=10)
    assert (refused.value.status, refused.value.code) == (404, "not_found")


def test_it_turns_http_addresses_into_websocket_ones():
    assert ws_url_of("http://127.0.0.1:5000", "/ws/step/") == "ws://127.0.0.1:5000/ws/step/"
    assert ws_url_of("https://gym.example.org", "/ws/step/") == "wss://gym.example.org/ws/step/"
    with pytest.raises(ValueError):
        ws_url_of("ftp://host", "/ws/step/")
