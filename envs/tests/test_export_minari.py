"""manage.py export_minari: recorded episodes, chosen with the API's filters, replayed into a Minari
dataset that minari.load_dataset reads back (episodes, returns, spaces) and recovers the environment of."""

import io

import gymnasium as gym
import minari
import numpy as np
import pytest
from django.core.management import CommandError, call_command

from envs.actions import encode_actions
from envs.models import Episode
from envs.services import datasets as service

from .episodes import play, played

pytestmark = pytest.mark.django_db


@pytest.fixture
def datasets(monkeypatch, tmp_path):
    """Minari's datasets folder, as Minari itself resolves it."""
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    return tmp_path


def export(*args):
    out = io.StringIO()
    call_command("export_minari", *args, stdout=out)
    return out.getvalue()


def test_it_builds_a_dataset_minari_loads(api, datasets):
    instance_id = played(api, episodes=3)
    played(api, "MountainCar-v0", max_episode_steps=15)  # another environment, left out by the filter
    interrupted = api.post("/v1/envs/", {"env_id": "CartPole-v1"}).json()["instance_id"]
    play(api, interrupted, steps=4)  # unseeded: replayed from the generator's saved state
    api.delete(f"/v1/envs/{interrupted}/")
    said = export("gymapi/cartpole-v0", "--env-id", "CartPole-v1", "--author", "tests")
    assert "Wrote 4 episode(s) of CartPole-v1" in said and str(datasets) in said
    recorded = list(Episode.objects.filter(instance__env_id="CartPole-v1").order_by("id"))

    dataset = minari.load_dataset("gymapi/cartpole-v0")
    assert dataset.total_episodes == 4 and dataset.total_steps == sum(e.steps for e in recorded)
    env = gym.make("CartPole-v1")
    assert dataset.observation_space == env.observation_space and dataset.action_space == env.action_space
    for loaded, episode in zip(dataset.iterate_episodes(), recorded):
        assert float(np.sum(loaded.rewards)) == episode.total_reward
        assert len(loaded.observations) == episode.steps + 1 and len(loaded.actions) == episode.steps
        assert bool(loaded.terminations[-1]) == episode.terminated
    first = next(dataset.iterate_episodes())
    assert np.array_equal(first.observations[0], gym.make("CartPole-v1").reset(seed=0)[0])
    recovered = dataset.recover_environment()
    assert recovered.spec.id == "CartPole-v1" and recovered.spec.max_episode_steps == 500
    recovered.close()
    assert instance_id


def test_it_takes_the_filters_of_the_api(api, datasets):
    instance_id = played(api, episodes=4)
    best = Episode.objects.order_by("-total_reward").first()
    export("gymapi/best-v0", "--instance", instance_id, "--min-return", str(best.total_reward))
    assert minari.load_dataset("gymapi/best-v0").total_episodes == Episode.objects.filter(
        total_reward__gte=best.total_reward).count()


def test_a_filter_of_the_wrong_type_is_refused_naming_it(api, datasets):
    played(api)
    with pytest.raises(CommandError, match="--min-steps: Enter a whole number"):
        export("gymapi/x-v0", "--min-steps", "many")
    assert not any(datasets.iterdir())


def test_a_bad_instance_is_refused_naming_the_option_typed(api, datasets):
    played(api)
    with pytest.raises(CommandError, match="^--instance: ") as refused:
        export("gymapi/x-v0", "--instance", "not-an-id")
    assert "--instance-id" not in str(refused.value)
    assert not any(datasets.iterdir())


def test_it_reads_the_episodes_a_chunk_at_a_time(api, datasets, monkeypatch):
    monkeypatch.setattr(service, "CHUNK", 2)
    played(api, episodes=3)
    played(api, record_actions=False)
    played(api, episodes=2)
    said = export("gymapi/chunked-v0", "--skip-unreplayable")
    assert said.count("Left out: Episode") == 1 and "Wrote 5 episode(s)" in said
    replayable = Episode.objects.exclude(actions=None).order_by("id")
    loaded = list(minari.load_dataset("gymapi/chunked-v0").iterate_episodes())
    assert [float(np.sum(episode.rewards)) for episode in loaded] == [episode.total_reward for episode in replayable]


def test_a_return_that_differs_fails_naming_the_episode_and_leaves_no_dataset(api, datasets):
    played(api, episodes=2)
    wrong = Episode.objects.order_by("id").last()
    sent = [int(action) for action in np.frombuffer(bytes(wrong.actions)[-8 * wrong.steps:], "<i8")]
    wrong.actions = encode_actions(gym.spaces.Discrete(2), [1 - action for action in sent])
    wrong.save(update_fields=["actions"])
    with pytest.raises(CommandError, match=f"Episode {wrong.id} \\(CartPole-v1\\): Episode {wrong.id} did not replay"):
        export("gymapi/broken-v0")
    assert not (datasets / "gymapi" / "broken-v0").exists()


def test_episodes_that_cannot_be_replayed_refuse_the_export_unless_left_out(api, datasets):
    played(api)
    played(api, record_actions=False)
    with pytest.raises(CommandError, match="its actions were not recorded.*--skip-unreplayable"):
        export("gymapi/mixed-v0")
    said = export("gymapi/mixed-v0", "--skip-unreplayable")
    assert "Left out: Episode" in said and minari.load_dataset("gymapi/mixed-v0").total_episodes == 1


def test_episodes_of_several_environments_are_refused(api, datasets):
    played(api)
    played(api, "Acrobot-v1", max_episode_steps=10)
    with pytest.raises(CommandError, match="one environment.*Acrobot-v1.*CartPole-v1"):
        export("gymapi/two-v0")


def test_it_exports_box_actions_in_their_dtype(api, datasets):
    instance_id = api.post("/v1/envs/", {"env_id": "Pendulum-v1"}).json()["instance_id"]
    play(api, instance_id, seed=1, policy=lambda step: [0.1 * (step % 5)], steps=12)
    api.delete(f"/v1/envs/{instance_id}/")
    export("gymapi/pendulum-v0")
    loaded = next(minari.load_dataset("gymapi/pendulum-v0").iterate_episodes())
    assert loaded.actions.shape == (12, 1) and loaded.actions.dtype == np.float32
    assert loaded.actions[3, 0] == np.float32(0.3)
