"""What each episode's row keeps to replay it: its seed, options, the generator's state before an
unseeded reset and its actions, in the one write per episode (and at each periodic write)."""

import gymnasium as gym
import numpy as np
import pytest

from envs.actions import actions_json, decode_actions
from envs.models import EnvInstance, Episode
from envs.runtime.vector import SHARED_GENERATOR

pytestmark = pytest.mark.django_db


def play(api, instance_id, actions, **reset):
    """Reset (with ``reset``'s fields) and step ``actions`` until the episode ends; returns those sent."""
    assert api.post(f"/v1/envs/{instance_id}/reset/", reset).status_code == 200
    sent = []
    for action in actions:
        sent.append(action)
        if api.post(f"/v1/envs/{instance_id}/step/", {"action": action}).json()["done"]:
            break
    return sent


def alternating(count=1000):
    return [step % 2 for step in range(count)]


def test_it_records_a_seeded_episodes_seed_and_actions(api, make_instance):
    instance_id = make_instance()
    sent = play(api, instance_id, alternating(), seed=3)
    episode = Episode.objects.get(instance_id=instance_id)
    assert (episode.seed, episode.generator, episode.options) == (3, None, None)
    assert actions_json(episode.actions) == sent and episode.steps == len(sent)
    assert len(episode.actions) < 48 + 8 * len(sent)  # numpy bytes: 8 a CartPole action, and a small header


def test_it_records_the_generators_state_before_an_unseeded_reset(api, make_instance):
    instance_id = make_instance()
    play(api, instance_id, alternating(), seed=1)
    play(api, instance_id, alternating())  # continues the generator's stream
    unseeded = Episode.objects.get(instance_id=instance_id, number=2)
    assert unseeded.seed is None
    assert unseeded.generator["bit_generator"] == "PCG64" and unseeded.generator["state"]["state"] > 2**64


def test_it_records_the_reset_options(api, make_instance):
    instance_id = make_instance()
    play(api, instance_id, alternating(), seed=0, options={"low": -0.01, "high": 0.01})
    assert Episode.objects.get(instance_id=instance_id).options == {"low": -0.01, "high": 0.01}


def test_an_interrupted_episode_keeps_its_own_actions(api, make_instance):
    instance_id = make_instance()
    api.post(f"/v1/envs/{instance_id}/reset/", {"seed": 5})
    for action in (1, 1, 0):
        api.post(f"/v1/envs/{instance_id}/step/", {"action": action})
    play(api, instance_id, [0], seed=6)  # the reset interrupts the first
    api.delete(f"/v1/envs/{instance_id}/")  # and the close the second
    first, second = Episode.objects.filter(instance_id=instance_id).order_by("number")
    assert (first.outcome, actions_json(first.actions)) == ("interrupted", [1, 1, 0])
    assert (second.seed, actions_json(second.actions)) == (6, [0])


def test_each_periodic_write_of_a_running_episode_carries_its_actions_so_far(api, make_instance, settings):
    settings.GYMAPI_FLUSH_SECONDS = 0  # every step is a periodic write
    instance_id = make_instance()
    api.post(f"/v1/envs/{instance_id}/reset/", {"seed": 2})
    api.post(f"/v1/envs/{instance_id}/step/", {"action": 1})
    running = Episode.objects.get(instance_id=instance_id)
    assert (running.outcome, running.seed, actions_json(running.actions)) == ("running", 2, [1])
    api.post(f"/v1/envs/{instance_id}/step/", {"action": 0})
    running.refresh_from_db()
    assert (running.steps, actions_json(running.actions)) == (2, [1, 0])


def test_it_records_no_actions_when_the_instance_says_so(api, make_instance):
    instance_id = make_instance(record_actions=False)
    play(api, instance_id, alternating())
    episode = Episode.objects.get(instance_id=instance_id)
    assert (episode.actions, episode.generator) == (None, None)
    assert EnvInstance.objects.get(pk=instance_id).record_actions is False


def test_it_records_no_actions_when_the_server_says_so(api, make_instance, settings):
    settings.GYMAPI_RECORD_ACTIONS = False
    instance_id = make_instance()
    play(api, instance_id, alternating(), seed=1)
    assert Episode.objects.get(instance_id=instance_id).actions is None
    assert EnvInstance.objects.get(pk=instance_id).record_actions is False


@pytest.mark.parametrize("value", ["false", 0, None, "yes"])
def test_record_actions_takes_only_true_or_false(api, value):
    response = api.post("/v1/envs/", {"env_id": "CartPole-v1", "record_actions": value})
    assert response.status_code == 400 and "record_actions" in response.json()["fields"]
    assert not EnvInstance.objects.exists()


def test_a_box_actions_are_stored_in_its_dtype(api, make_instance):
    instance_id = make_instance("Pendulum-v1")
    api.post(f"/v1/envs/{instance_id}/reset/", {"seed": 0})
    for value in (0.5, -1.25):
        api.post(f"/v1/envs/{instance_id}/step/", {"action": [value]})
    api.delete(f"/v1/envs/{instance_id}/")
    episode = Episode.objects.get(instance_id=instance_id)
    actions = decode_actions(episode.actions, gym.spaces.Box(-2, 2, (1,), np.float32))
    assert [action.tolist() for action in actions] == [[0.5], [-1.25]] and actions[0].dtype == np.float32


def test_a_sync_vector_records_each_sub_environments_actions_and_start(api):
    created = api.post("/v1/vector_envs/", {"env_id": "FrozenLake-v1", "num_envs": 2, "seed": 4}).json()
    instance_id = created["instance_id"]
    api.post(f"/v1/vector_envs/{instance_id}/reset/", {})
    sent = []
    for step in range(40):
        batch = [step % 4, 2]
        sent.append(batch)
        api.post(f"/v1/vector_envs/{instance_id}/step/", {"action": batch})
    api.delete(f"/v1/vector_envs/{instance_id}/")
    episodes = Episode.objects.filter(instance_id=instance_id)
    assert episodes.count() > 2
    for episode in episodes:
        assert len(actions_json(episode.actions)) == episode.steps and episode.unreplayable == ""
        if episode.number == 1:
            assert (episode.seed, episode.generator) == (4 + episode.sub_env, None)
        else:  # autoreset: unseeded, from the generator's state when the episode before it ended
            assert episode.seed is None and episode.generator is not None
    # Sub-environment 1 always pushed right: each of its episodes is all 2s.
    assert all(set(actions_json(e.actions)) == {2} for e in episodes.filter(sub_env=1))


def test_a_vector_entry_points_episodes_say_why_they_cannot_be_replayed(api):
    instance_id = api.post("/v1/vector_envs/", {"env_id": "CartPole-v1", "num_envs": 2}).json()["instance_id"]
    api.post(f"/v1/vector_envs/{instance_id}/reset/", {})
    for _ in range(3):
        api.post(f"/v1/vector_envs/{instance_id}/step/", {"action": [0, 1]})
    api.delete(f"/v1/vector_envs/{instance_id}/")
    for episode in Episode.objects.filter(instance_id=instance_id):
        assert episode.actions is None
        assert episode.unreplayable == SHARED_GENERATOR.format(env_id="CartPole-v1")
