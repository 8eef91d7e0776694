"""A client of openai/gym-http-api, unchanged, against a real server in legacy mode.

``GymHttpClient`` sends exactly what that project's Python binding sends
(written again here from what it does, not copied): a ``Content-type:
application/json`` header on every request, POST bodies written with
``json.dumps`` (``null`` when there is nothing to send), and errors read from
``message`` on any status but 200.
"""

import json
import signal
import sqlite3
import uuid
from urllib.parse import urljoin

import pytest
import requests

from gymapi.testing.server import ServerProcess


class ServerError(Exception):
    def __init__(self, message, status_code):
        super().__init__(message)
        self.message, self.status_code = message, status_code


class GymHttpClient:
    def __init__(self, remote_base):
        self.remote_base = remote_base
        self.session = requests.Session()
        self.session.headers.update({"Content-type": "application/json"})

    def _answer(self, response):
        try:
            body = response.json()
        except ValueError:  # no JSON (a 204): only the status counts
            response.raise_for_status()
            return {}
        if response.status_code != 200 and "message" in body:
            raise ServerError(body["message"], response.status_code)
        response.raise_for_status()
        return body

    def _post(self, route, data):
        return self._answer(self.session.post(urljoin(self.remote_base, route), data=json.dumps(data), timeout=60))

    def _get(self, route):
        return self._answer(self.session.get(urljoin(self.remote_base, route), timeout=60))

    def env_create(self, env_id):
        return self._post("/v1/envs/", {"env_id": env_id})["instance_id"]

    def env_list_all(self):
        return self._get("/v1/envs/")["all_envs"]

    def env_reset(self, instance_id):
        return self._post(f"/v1/envs/{instance_id}/reset/", None)["observation"]

    def env_step(self, instance_id, action, render=False):
        body = self._post(f"/v1/envs/{instance_id}/step/", {"action": action, "render": render})
        return [body["observation"], body["reward"], body["done"], body["info"]]

    def env_action_space_info(self, instance_id):
        return self._get(f"/v1/envs/{instance_id}/action_space/")["info"]

    def env_action_space_sample(self, instance_id):
        return self._get(f"/v1/envs/{instance_id}/action_space/sample")["action"]

    def env_action_space_contains(self, instance_id, x):
        return self._get(f"/v1/envs/{instance_id}/action_space/contains/{x}")["member"]

    def env_observation_space_info(self, instance_id):
        return self._get(f"/v1/envs/{instance_id}/observation_space/")["info"]

    def env_observation_space_contains(self, instance_id, params):
        return self._post(f"/v1/envs/{instance_id}/observation_space/contains", params)["member"]

    def env_monitor_start(self, instance_id, directory, force=False, resume=False, video_callable=False):
        data = {"directory": directory, "force": force, "resume": resume, "video_callable": video_callable}
        self._post(f"/v1/envs/{instance_id}/monitor/start/", data)

    def env_monitor_close(self, instance_id):
        self._post(f"/v1/envs/{instance_id}/monitor/close/", None)

    def env_close(self, instance_id):
        self._post(f"/v1/envs/{instance_id}/close/", None)

    def shutdown_server(self):
        self._post("/v1/shutdown/", None)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("legacy-server")
    process = ServerProcess(
        tmp, GYMAPI_LEGACY_API="1", GYMAPI_ALLOW_SHUTDOWN="1", MEDIA_ROOT=str(tmp / "media")
    ).start()
    process.media_root = tmp / "media"
    yield process
    process.stop()


@pytest.fixture
def client(server):
    return GymHttpClient(server.url)


def test_it_runs_the_usual_client_loop(server, client):
    instance_id = client.env_create("CartPole-v1")
    assert client.env_list_all() == {instance_id: "CartPole-v1"}
    action_info = client.env_action_space_info(instance_id)
    observation_info = client.env_observation_space_info(instance_id)
    assert (action_info["name"], action_info["n"]) == ("Discrete", 2)
    assert (observation_info["name"], observation_info["shape"]) == ("Box", [4])

    client.env_monitor_start(instance_id, directory="/tmp/cartpole-experiment-1", force=True)
    returns = []
    for _ in range(2):
        observation = client.env_reset(instance_id)
        assert len(observation) == 4
        total, done = 0.0, False
        while not done:
            action = client.env_action_space_sample(instance_id)
            assert client.env_action_space_contains(instance_id, action) is True
            observation, reward, done, info = client.env_step(instance_id, action, render=True)
            total += reward
        returns.append(total)
    assert client.env_observation_space_contains(instance_id, {"name": "Box", "shape": [4]}) is True
    assert client.env_observation_space_contains(instance_id, observation_info) is True
    assert client.env_action_space_contains(instance_id, 2) is False
    client.env_monitor_close(instance_id)

    # The videos: Gymnasium's default schedule records episodes 0 and 1.
    listing = client.session.get(f"{server.url}/v1/envs/{instance_id}/monitor/files/").json()
    assert listing["directory"] == "tmp/cartpole-experiment-1"
    assert [entry["name"].rsplit("-", 1)[-1] for entry in listing["files"]] == ["0.mp4", "1.mp4"]
    for entry in listing["files"]:
        video = client.session.get(f"{server.url}{entry['url']}")
        assert video.status_code == 200
        assert len(video.content) == entry["size"] and video.content[4:8] == b"ftyp"
        on_disk = server.media_root / "monitor" / "anyone" / "tmp" / "cartpole-experiment-1" / entry["name"]
        assert on_disk.read_bytes() == video.content

    client.env_close(instance_id)
    assert instance_id not in client.env_list_all()
    assert all(total >= 1 for total in returns)
    with pytest.raises(ServerError) as error:
        client.env_reset(instance_id)
    assert error.value.status_code == 400
    assert error.value.message == f"Instance_id {instance_id} unknown (closed)"


def test_step_and_reset_errors_have_a_message(client):
    # Step and reset go through Django in legacy mode, not the /v1 fast path.
    with pytest.raises(ServerError) as error:
        client.env_step("3c657dbc", 0)
    assert (error.value.status_code, error.value.message) == (400, "Instance_id 3c657dbc unknown")
    with pytest.raises(ServerError) as error:
        client.env_reset("3c657dbc")
    assert error.value.message == "Instance_id 3c657dbc unknown"

    instance_id = client.env_create("CartPole-v1")
    client.env_reset(instance_id)
    with pytest.raises(ServerError) as error:
        client.env_step(instance_id, 3)
    assert error.value.status_code == 400 and "Discrete(2)" in error.value.message
    client.env_close(instance_id)


def test_it_shuts_down_when_asked(server, client):
    # Last in this module: it ends the module's server.
    instance_id = client.env_create("CartPole-v1")
    client.env_reset(instance_id)

    client.shutdown_server()

    returncode = server.process.wait(timeout=60)
    # uvicorn exits by re-raising the SIGTERM it handled, after finishing the requests in flight.
    assert returncode in (0, -signal.SIGTERM)
    with sqlite3.connect(server.database) as database:
        [(status,)] = database.execute(
            "SELECT status FROM envs_envinstance WHERE id = ?", (uuid.UUID(instance_id).hex,)
        ).fetchall()
    assert status == "closed"
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.url}/v1/envs/", timeout=5)
