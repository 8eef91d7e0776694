"""GET /v1/envs/{id}/monitor/render/ -> the current state as a PNG, a list of PNGs, or text."""

import base64
import io
import uuid

import gymnasium as gym
import numpy as np
from PIL import Image

from envs.runtime import runtime

from .helpers import lock_held


def decode_png(data):
    image = Image.open(io.BytesIO(base64.b64decode(data)))
    assert image.format == "PNG"
    return np.asarray(image)


def in_process_frames(env_id, render_mode, seed, actions):
    env = gym.make(env_id, render_mode=render_mode)
    env.reset(seed=seed)
    for action in actions:
        env.step(action)
    frame = env.render()
    env.close()
    return frame


def test_it_renders_an_rgb_array_instance_as_the_exact_png_of_its_frame(api, make_instance):
    instance_id = make_instance(render_mode="rgb_array", reset=True, reset_seed=3)
    api.post(f"/v1/envs/{instance_id}/step/", {"action": 1})
    response = api.get(f"/v1/envs/{instance_id}/monitor/render/")
    assert response.status_code == 200
    body = response.json()
    assert {key: body[key] for key in ("render_mode", "content_type", "encoding")} == {
        "render_mode": "rgb_array",
        "content_type": "image/png",
        "encoding": "base64",
    }
    np.testing.assert_array_equal(decode_png(body["data"]), in_process_frames("CartPole-v1", "rgb_array", 3, [1]))


def test_it_answers_without_trailing_slash(api, make_instance):
    instance_id = make_instance(render_mode="rgb_array", reset=True)
    assert api.get(f"/v1/envs/{instance_id}/monitor/render").status_code == 200


def test_it_hands_over_the_frames_collected_since_the_last_render_in_rgb_array_list_mode(api, make_instance):
    instance_id = make_instance(render_mode="rgb_array_list", reset=True, reset_seed=3)
    for _ in range(3):
        api.post(f"/v1/envs/{instance_id}/step/", {"action": 0})
    body = api.get(f"/v1/envs/{instance_id}/monitor/render/").json()
    assert (body["render_mode"], body["content_type"], body["encoding"]) == ("rgb_array_list", "image/png", "base64")
    expected = in_process_frames("CartPole-v1", "rgb_array_list", 3, [0, 0, 0])
    assert len(body["data"]) == len(expected) == 4  # the reset's frame and one per step
    for data, frame in zip(body["data"], expected):
        np.testing.assert_array_equal(decode_png(data), frame)
    api.post(f"/v1/envs/{instance_id}/step/", {"action": 0})
    assert len(api.get(f"/v1/envs/{instance_id}/monitor/render/").json()["data"]) == 1


def test_it_renders_an_ansi_instance_as_text(api, make_instance):
    instance_id = make_instance("Taxi-v4", render_mode="ansi", reset=True, reset_seed=5)
    body = api.get(f"/v1/envs/{instance_id}/monitor/render/").json()
    assert body == {
        "render_mode": "ansi",
        "content_type": "text/plain",
        "encoding": "utf-8",
        "data": in_process_frames("Taxi-v4", "ansi", 5, []),
    }


def test_it_explains_which_modes_render_when_the_instance_has_no_render_mode(api, make_instance):
    instance_id = make_instance(reset=True)
    response = api.get(f"/v1/envs/{instance_id}/monitor/render/")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "not_renderable"
    assert "without a render mode" in body["detail"]
    assert "['rgb_array', 'rgb_array_list']" in body["detail"]


def test_it_asks_for_a_reset_before_the_first_render(api, make_instance):
    instance_id = make_instance(render_mode="rgb_array")
    response = api.get(f"/v1/envs/{instance_id}/monitor/render/")
    assert response.status_code == 400
    assert response.json()["code"] == "reset_needed"


def test_it_renders_under_the_instances_lock_and_leaves_the_episode_alone(api, make_instance):
    instance_id = make_instance(render_mode="rgb_array", reset=True)
    live = runtime.get(instance_id)
    env_render = live._env.render
    held = []

    def render():
        held.append(lock_held(live.lock))
        return env_render()

    live._env.render = render
    before = api.get(f"/v1/envs/{instance_id}/").json()["episode"]
    assert api.get(f"/v1/envs/{instance_id}/monitor/render/").status_code == 200
    assert held == [True]
    assert api.get(f"/v1/envs/{instance_id}/").json()["episode"] == before


def test_it_answers_404_for_an_unknown_instance_and_410_for_a_closed_one(api, make_instance):
    assert api.get(f"/v1/envs/{uuid.uuid4()}/monitor/render/").status_code == 404
    instance_id = make_instance(render_mode="rgb_array", reset=True)
    api.delete(f"/v1/envs/{instance_id}/")
    response = api.get(f"/v1/envs/{instance_id}/monitor/render/")
    assert response.status_code == 410 and response.json()["code"] == "instance_closed"
