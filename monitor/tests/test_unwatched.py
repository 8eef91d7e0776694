"""Nobody watching: stepping renders nothing and publishes nothing."""

from envs.runtime import LiveEnv
from envs import events


def test_it_neither_renders_nor_publishes_while_nobody_watches(api, make_instance, monkeypatch):
    rendered, published = [], []
    monkeypatch.setattr(LiveEnv, "frame", lambda live: rendered.append(live))
    monkeypatch.setattr(LiveEnv, "render", lambda live: rendered.append(live))
    monkeypatch.setattr(events, "get_channel_layer", lambda: published.append("layer"))
    instance_id = make_instance(render_mode="rgb_array", reset=True, reset_seed=1)
    done = False
    while not done:  # a whole episode, to its episode_finished moment
        done = api.post(f"/v1/envs/{instance_id}/step/", {"action": 0}).json()["done"]
    api.post(f"/v1/envs/{instance_id}/reset/", {})
    api.delete(f"/v1/envs/{instance_id}/")
    assert rendered == [] and published == []
