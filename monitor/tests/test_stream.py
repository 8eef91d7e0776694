"""GET /v1/envs/{id}/monitor/stream/ -> MJPEG (multipart/x-mixed-replace) until the instance closes."""

import asyncio
import http.client
import io
import json
import threading
import uuid
from urllib.parse import urlsplit

import pytest
from PIL import Image

from envs import rendering
from envs.runtime import SINGLE, Creation, runtime


class Stream:
    """A viewer of the MJPEG stream on a real server, reading one part at a time."""

    def __init__(self, server, instance_id):
        address = urlsplit(server.url)
        self.connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
        self.connection.request("GET", f"/v1/envs/{instance_id}/monitor/stream/", headers={"Accept": "image/*"})
        self.response = self.connection.getresponse()

    def next_part(self):
        """The next JPEG, or None at the closing boundary."""
        line = self.response.readline()
        while line == b"\r\n":
            line = self.response.readline()
        if line.strip() == b"--frame--":
            return None
        assert line.strip() == b"--frame", line
        headers = {}
        while (line := self.response.readline()) != b"\r\n":
            name, value = line.decode().split(":", 1)
            headers[name.strip().lower()] = value.strip()
        assert headers["content-type"] == "image/jpeg"
        return self.response.read(int(headers["content-length"]))

    def close(self):
        self.connection.close()


def call(server, method, path, body=None):
    address = urlsplit(server.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        connection.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        response = connection.getresponse()
        data = response.read()
        return response.status, json.loads(data) if data else None
    finally:
        connection.close()


def test_it_streams_a_new_jpeg_after_steps_and_ends_when_the_instance_closes(server):
    status, created = call(server, "POST", "/v1/envs/", {"env_id": "CartPole-v1", "render_mode": "rgb_array"})
    instance_id = created["instance_id"]
    call(server, "POST", f"/v1/envs/{instance_id}/reset/", {"seed": 1})
    stream = Stream(server, instance_id)
    try:
        assert stream.response.status == 200
        assert stream.response.getheader("Content-Type") == "multipart/x-mixed-replace; boundary=frame"
        first = stream.next_part()
        assert Image.open(io.BytesIO(first)).size == (600, 400)
        for _ in range(5):
            assert call(server, "POST", f"/v1/envs/{instance_id}/step/", {"action": 1})[0] == 200
        assert stream.next_part() != first
        assert call(server, "DELETE", f"/v1/envs/{instance_id}/")[0] == 200
        while stream.next_part() is not None:  # frames drawn before the close, then the end
            pass
        assert stream.response.read() == b""
    finally:
        stream.close()


def test_it_keeps_stepping_while_a_viewer_reads_nothing_or_hangs_up(server):
    status, created = call(server, "POST", "/v1/envs/", {"env_id": "CartPole-v1", "render_mode": "rgb_array"})
    instance_id = created["instance_id"]
    call(server, "POST", f"/v1/envs/{instance_id}/reset/", {"seed": 1})
    stalled = Stream(server, instance_id)  # never read
    statuses = [call(server, "POST", f"/v1/envs/{instance_id}/step/", {"action": n % 2})[0] for n in range(40)]
    stalled.close()
    statuses += [call(server, "POST", f"/v1/envs/{instance_id}/step/", {"action": n % 2})[0] for n in range(5)]
    assert statuses == [200] * 45
    call(server, "DELETE", f"/v1/envs/{instance_id}/")


def live_cartpole():
    live = runtime.create(uuid.uuid4(), Creation(SINGLE, "CartPole-v1", render_mode="rgb_array"))
    live.reset(seed=1)
    return live


def count_frames(live):
    """The versions ``live`` drew frames of (each frame renders its environment once)."""
    drawn = []
    render = live._env.render

    def counting_render():
        drawn.append(live.version)
        return render()

    live._env.render = counting_render
    return drawn


@pytest.mark.asyncio
async def test_it_draws_a_new_frame_only_when_the_environment_changed(settings):
    settings.GYMAPI_STREAM_FPS = 100
    live = live_cartpole()
    drawn = count_frames(live)
    stream = rendering.mjpeg_stream(live)
    await anext(stream)
    await asyncio.sleep(0.2)  # some twenty looks at an unchanged environment
    assert drawn == [1]
    live.step(0)
    await anext(stream)
    assert drawn == [1, 2]
    await stream.aclose()


@pytest.mark.asyncio
async def test_it_holds_no_lock_while_a_viewer_is_slow_to_read():
    live = live_cartpole()
    stream = rendering.mjpeg_stream(live)
    await anext(stream)  # the viewer took a frame and reads no further
    acquired = []
    stepper = threading.Thread(target=lambda: acquired.append(live.lock.acquire(timeout=5)) or live.lock.release())
    stepper.start()
    stepper.join()
    assert acquired == [True]
    await stream.aclose()


def test_it_refuses_an_instance_without_pictures_in_json_whatever_the_client_accepts(api, make_instance):
    instance_id = make_instance(reset=True)
    response = api.get(f"/v1/envs/{instance_id}/monitor/stream/", HTTP_ACCEPT="image/*")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "not_renderable"
    assert "rgb_array" in response.json()["detail"]


def test_it_refuses_a_text_instance_and_points_to_render(api, make_instance):
    instance_id = make_instance("Taxi-v4", render_mode="ansi", reset=True)
    response = api.get(f"/v1/envs/{instance_id}/monitor/stream/")
    assert response.status_code == 400
    assert "monitor/render" in response.json()["detail"]


def test_it_answers_404_for_an_unknown_instance(api, db):
    response = api.get(f"/v1/envs/{uuid.uuid4()}/monitor/stream", HTTP_ACCEPT="multipart/x-mixed-replace")
    assert response.status_code == 404
    assert response.json()["code"] == "instance_not_found"
