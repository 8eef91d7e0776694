"""The frames viewers are shown (envs.rendering.viewer_frame): drawn under the
instance's lock, encoded once per change, and never taking a client's frames."""

import io
import uuid

from PIL import Image

from envs.rendering import viewer_frame
from envs.runtime import SINGLE, Creation, runtime

from .helpers import lock_held


def live(render_mode="rgb_array", env_id="CartPole-v1"):
    instance = runtime.create(uuid.uuid4(), Creation(SINGLE, env_id, render_mode=render_mode))
    instance.reset(seed=1)
    return instance


def test_it_encodes_a_jpeg_once_per_change():
    instance = live()
    first = viewer_frame(instance)
    assert first.content_type == "image/jpeg"
    assert Image.open(io.BytesIO(first.image)).size == (600, 400)
    assert viewer_frame(instance) is first
    instance.step(1)
    second = viewer_frame(instance)
    assert second is not first and second.version == first.version + 1 and second.step == 1


def test_it_draws_under_the_instances_lock():
    instance = live()
    env_render = instance._env.render
    held = []
    instance._env.render = lambda: held.append(lock_held(instance.lock)) or env_render()
    viewer_frame(instance)
    assert held == [True]


def test_it_leaves_the_collected_frames_to_the_client_in_list_modes():
    instance = live("rgb_array_list")
    instance.step(0)
    assert viewer_frame(instance).image is not None
    assert len(instance.render()) == 2  # the reset's frame and the step's, untouched by the viewer


def test_it_carries_text_for_ansi_and_counters_alone_without_a_render_mode():
    text = viewer_frame(live("ansi", "Taxi-v4"))
    assert text.content_type == "text/plain" and text.text.startswith("+---------+") and text.image is None
    blind = viewer_frame(live(None))
    assert blind.image is None and blind.text is None and blind.episode == 1


def test_it_gives_nothing_for_a_closed_instance():
    instance = live()
    runtime.remove(instance.instance_id)
    assert viewer_frame(instance) is None
