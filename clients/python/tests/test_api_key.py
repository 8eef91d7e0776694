"""``api_key=``: RemoteEnv and RemoteVectorEnv on a server that requires API keys
(a server process of its own, GYMAPI_REQUIRE_KEYS=1)."""

import pytest

from gymapi_client import NotFound, RemoteEnv, RemoteVectorEnv, Unauthorized, shared_session
from gymapi_client.env import auth_headers, call_server


@pytest.fixture(scope="module")
def keyed(tmp_path_factory):
    """A server that requires keys, and two keys of it: ``(url, alice's key, bob's key)``."""
    from gymapi.testing.server import ServerProcess

    process = ServerProcess(tmp_path_factory.mktemp("keyed"), GYMAPI_REQUIRE_KEYS="1").start()
    try:
        alice = process.manage("apikey", "create", "alice").strip()
        bob = process.manage("apikey", "create", "bob").strip()
        yield process.url, alice, bob
    finally:
        process.stop()


def test_it_sends_the_key_and_plays_an_episode(keyed):
    url, alice, _ = keyed
    with RemoteEnv(url, "CartPole-v1", seed=1, api_key=alice) as env:
        env.reset()
        _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        assert reward == 1.0 and not truncated


def test_it_is_refused_without_a_key_or_with_a_wrong_one(keyed):
    url, alice, _ = keyed
    with pytest.raises(Unauthorized) as missing:
        RemoteEnv(url, "CartPole-v1")
    assert missing.value.status == 401 and missing.value.code == "not_authenticated"
    with pytest.raises(Unauthorized) as wrong:
        RemoteEnv(url, "CartPole-v1", api_key=alice + "x")
    assert wrong.value.code == "invalid_key"


def test_another_keys_instance_is_not_found(keyed):
    url, alice, bob = keyed
    with RemoteEnv(url, "CartPole-v1", api_key=alice) as env:
        env.reset()
        path = f"/v1/envs/{env.instance_id}/step/"
        with pytest.raises(NotFound) as hidden:  # bob's key on alice's instance id
            call_server(shared_session(), url, "POST", path, {"action": 0}, headers=auth_headers(bob))
        assert hidden.value.code == "instance_not_found"
        env.step(0)  # still alice's, untouched


def test_spec_make_creates_another_instance_with_the_same_key(keyed):
    url, alice, _ = keyed
    with RemoteEnv(url, "CartPole-v1", api_key=alice) as env:
        with env.spec.make() as again:
            assert again.unwrapped.instance_id != env.instance_id
            again.reset()
        assert "api_key" not in env.spec.kwargs  # the key is not shown with the spec


def test_the_vector_client_sends_the_key(keyed):
    url, alice, _ = keyed
    with RemoteVectorEnv(url, "CartPole-v1", 3, seed=0, api_key=alice) as envs:
        observations, _ = envs.reset()
        assert observations.shape == (3, 4)
        envs.step(envs.action_space.sample())
    with pytest.raises(Unauthorized):
        RemoteVectorEnv(url, "CartPole-v1", 3)


def test_it_sends_the_key_over_the_step_socket_too(keyed):
    url, alice, bob = keyed
    with RemoteEnv(url, "CartPole-v1", seed=1, api_key=alice, transport="websocket") as env:
        env.reset()
        assert env.step(0)[1] == 1.0
        from gymapi_client import StepSocket
        from gymapi_client.socket import step_path

        with pytest.raises(Unauthorized):  # no key: refused before any step
            StepSocket(url, step_path(env.instance_id)).call({"op": "step", "action": 0})
        other = StepSocket(url, step_path(env.instance_id), api_key=bob)
        try:
            with pytest.raises(NotFound):  # another key's instance
                other.call({"op": "step", "action": 0})
        finally:
            other.close()
