"""GET /v1/episodes/{id}/replay/: the episode re-run in a fresh environment from its seed (or the
generator's state saved before an unseeded reset), options and actions; a 409 that says why when it
cannot be, never a replay that pretends."""

import threading

import gymnasium as gym
import pytest

from envs.actions import encode_actions
from envs.models import Episode
from envs.services.replay import slots

from .episodes import play, played
from .faulty_envs import SlowToBuildEnv, reset_events

pytestmark = pytest.mark.django_db


def replay(api, episode):
    return api.get(f"/v1/episodes/{episode.id}/replay/")


def assert_reproduced(api, episode):
    response = replay(api, episode)
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "reproduced": True, "steps": episode.steps, "return": episode.total_reward, "recorded_return": episode.total_reward,
    }


def random_policy(seed):
    space = gym.spaces.Discrete(2, seed=seed)
    return lambda step: int(space.sample())


def test_it_replays_a_seeded_episode(api, make_instance):
    instance_id = make_instance()
    play(api, instance_id, seed=11, policy=random_policy(0))
    assert_reproduced(api, Episode.objects.get(instance_id=instance_id))


def test_it_replays_unseeded_episodes_from_the_generators_saved_state(api, make_instance):
    instance_id = make_instance()  # no seed at all: the first reset draws from a fresh generator
    for number in range(3):
        play(api, instance_id, policy=random_policy(number))
    episodes = Episode.objects.filter(instance_id=instance_id)
    assert episodes.count() == 3 and all(episode.seed is None for episode in episodes)
    for episode in episodes:
        assert_reproduced(api, episode)


def test_it_replays_the_first_episode_of_a_seeded_creation(api, make_instance):
    instance_id = make_instance(seed=42)
    play(api, instance_id, policy=random_policy(1))
    play(api, instance_id, policy=random_policy(2))
    first, second = Episode.objects.filter(instance_id=instance_id).order_by("number")
    assert (first.seed, second.seed) == (42, None)
    assert_reproduced(api, first)
    assert_reproduced(api, second)


def test_it_replays_with_the_reset_options(api, make_instance):
    instance_id = make_instance()
    play(api, instance_id, seed=3, options={"low": -0.2, "high": 0.2}, policy=random_policy(3))
    assert_reproduced(api, Episode.objects.get(instance_id=instance_id))


def test_it_replays_randomness_drawn_in_steps(api, make_instance):
    # The slippery lake draws every move from the generator: the saved state replays those too.
    instance_id = make_instance("FrozenLake-v1")
    for number in range(4):
        play(api, instance_id, policy=lambda step: (step + number) % 4)
    for episode in Episode.objects.filter(instance_id=instance_id):
        assert_reproduced(api, episode)


def test_it_replays_box_actions(api, make_instance):
    instance_id = make_instance("Pendulum-v1")
    play(api, instance_id, policy=lambda step: [((step * 37) % 17 - 8) / 4], steps=60)
    api.delete(f"/v1/envs/{instance_id}/")
    assert_reproduced(api, Episode.objects.get(instance_id=instance_id))


def test_it_replays_a_running_episode_as_far_as_its_row_goes(api, make_instance, settings):
    settings.GYMAPI_FLUSH_SECONDS = 0
    instance_id = make_instance()
    play(api, instance_id, steps=5)
    episode = Episode.objects.get(instance_id=instance_id)
    assert episode.outcome == "running"
    assert_reproduced(api, episode)


def test_it_replays_each_sync_sub_environments_episodes_autoresets_included(api):
    created = api.post("/v1/vector_envs/", {"env_id": "FrozenLake-v1", "num_envs": 3}).json()
    instance_id = created["instance_id"]
    api.post(f"/v1/vector_envs/{instance_id}/reset/", {})
    for step in range(60):
        api.post(f"/v1/vector_envs/{instance_id}/step/", {"action": [step % 4, (step // 2) % 4, 1]})
    api.delete(f"/v1/vector_envs/{instance_id}/")
    episodes = Episode.objects.filter(instance_id=instance_id)
    assert episodes.filter(number__gt=1).exists()
    for episode in episodes:
        assert_reproduced(api, episode)


@pytest.mark.slow
def test_it_replays_a_seeded_pong_episode_and_refuses_an_unseeded_one(api, make_instance):
    instance_id = make_instance("ALE/Pong-v5")
    play(api, instance_id, seed=5, policy=lambda step: step % 6, steps=150)
    play(api, instance_id, policy=lambda step: step % 6, steps=30)  # interrupts the first
    api.delete(f"/v1/envs/{instance_id}/")
    seeded, unseeded = Episode.objects.filter(instance_id=instance_id).order_by("number")
    assert_reproduced(api, seeded)
    response = replay(api, unseeded)
    assert (response.status_code, response.json()["code"]) == (409, "no_seed")
    assert "ALE's emulator" in response.json()["detail"]


def refused(api, episode, code):
    before = list(Episode.objects.values())
    response = replay(api, episode)
    assert (response.status_code, response.json()["code"]) == (409, code), response.json()
    assert list(Episode.objects.values()) == before  # a replay changes nothing
    return response.json()["detail"]


def test_an_episode_without_actions_is_refused_saying_so(api):
    played(api, record_actions=False)
    assert "its actions were not recorded (record_actions was off" in refused(api, Episode.objects.get(), "actions_not_recorded")


def test_an_episode_recorded_before_actions_were_is_refused_saying_so(api):
    played(api)
    Episode.objects.update(actions=None)  # as the rows written before this column
    assert "recorded before actions were" in refused(api, Episode.objects.get(), "actions_not_recorded")


def test_an_unseeded_episode_without_a_saved_generator_is_refused(api, make_instance):
    instance_id = make_instance()
    play(api, instance_id)
    Episode.objects.update(generator=None)
    assert "no seed" in refused(api, Episode.objects.get(), "no_seed")


def test_a_vector_entry_points_episode_is_refused_with_its_reason(api):
    instance_id = api.post("/v1/vector_envs/", {"env_id": "CartPole-v1", "num_envs": 2, "seed": 0}).json()["instance_id"]
    api.post(f"/v1/vector_envs/{instance_id}/reset/", {})
    api.post(f"/v1/vector_envs/{instance_id}/step/", {"action": [0, 1]})
    api.delete(f"/v1/vector_envs/{instance_id}/")
    for episode in Episode.objects.filter(instance_id=instance_id):
        assert "share one random generator" in refused(api, episode, "not_replayable")


def test_an_environment_registered_nondeterministic_is_refused(api, monkeypatch):
    played(api)
    monkeypatch.setattr(gym.spec("CartPole-v1"), "nondeterministic", True)
    assert "registered as nondeterministic" in refused(api, Episode.objects.get(), "not_deterministic")


def test_an_episode_that_replays_otherwise_is_refused_with_both_figures(api, make_instance):
    instance_id = make_instance()
    sent = play(api, instance_id, seed=1)
    episode = Episode.objects.get(instance_id=instance_id)
    # Another run of the same seed with other actions: what an environment that is not deterministic would give.
    episode.actions = encode_actions(gym.spaces.Discrete(2), [1 - action for action in sent])
    episode.save(update_fields=["actions"])
    detail = refused(api, episode, "not_deterministic")
    assert f"where {episode.steps} steps, {episode.total_reward!r} and terminated were recorded" in detail


def test_an_episode_longer_than_the_replay_limit_is_refused(api, settings):
    played(api)
    settings.GYMAPI_REPLAY_MAX_STEPS = 3
    assert "GYMAPI_REPLAY_MAX_STEPS=3" in refused(api, Episode.objects.get(), "replay_too_long")


def test_a_replay_past_its_time_is_given_up(api, settings):
    played(api)
    settings.GYMAPI_REPLAY_TIMEOUT = 1e-9
    response = replay(api, Episode.objects.get())
    assert (response.status_code, response.json()["code"]) == (504, "replay_timeout")
    assert "GYMAPI_REPLAY_TIMEOUT" in response.json()["detail"]


def slots_freed():
    """Wait (at most 30 s) until no replay holds a slot, the abandoned ones included."""
    for _ in range(300):
        if not slots.busy:
            return
        threading.Event().wait(0.1)
    pytest.fail(f"{slots.busy} replay(s) still hold a slot")


@pytest.fixture
def hanging_episode(api, make_instance):
    """An episode of an environment whose constructor waits for ``SlowToBuildEnv.release``: its
    replays hang in ``gym.make``, where no check between steps reaches, until the test releases it."""
    release = reset_events(SlowToBuildEnv)
    release()  # built at once while the episode is played
    instance_id = make_instance("gymapi-test/SlowToBuild-v0")
    play(api, instance_id, seed=0, policy=lambda step: 0, steps=3)
    api.delete(f"/v1/envs/{instance_id}/")
    release = reset_events(SlowToBuildEnv)
    yield Episode.objects.get(instance_id=instance_id)
    release()
    slots_freed()  # the abandoned replay ends and gives its slot back before the next test


def test_a_replay_that_hangs_building_its_environment_is_given_up_and_keeps_its_slot(api, hanging_episode, settings):
    settings.GYMAPI_REPLAY_TIMEOUT = 0.2
    settings.GYMAPI_MAX_REPLAYS = 1
    response = replay(api, hanging_episode)
    assert (response.status_code, response.json()["code"]) == (504, "replay_timeout")
    assert "GYMAPI_REPLAY_TIMEOUT" in response.json()["detail"]
    assert SlowToBuildEnv.entered.wait(30)
    # The abandoned replay still holds the only slot: the bound counts it until its environment lets go.
    busy = replay(api, hanging_episode)
    assert (busy.status_code, busy.json()["code"], busy["Retry-After"]) == (503, "replays_busy", "5")
    assert "GYMAPI_MAX_REPLAYS" in busy.json()["detail"]
    SlowToBuildEnv.release.set()
    slots_freed()
    settings.GYMAPI_REPLAY_TIMEOUT = 120
    assert_reproduced(api, hanging_episode)


def test_a_replay_is_refused_while_every_slot_is_taken(api, settings):
    played(api)
    settings.GYMAPI_MAX_REPLAYS = 2
    slots.take(), slots.take()  # two replays or renders under way
    try:
        response = replay(api, Episode.objects.get())
    finally:
        slots.give(), slots.give()
    assert (response.status_code, response.json()["code"], response["Retry-After"]) == (503, "replays_busy", "5")
    assert_reproduced(api, Episode.objects.get())


def test_an_episode_that_cannot_be_replayed_is_refused_without_a_slot(api, settings):
    played(api, record_actions=False)
    settings.GYMAPI_MAX_REPLAYS = 1
    slots.take()
    try:
        refused(api, Episode.objects.get(), "actions_not_recorded")
    finally:
        slots.give()


def test_an_unknown_episode_is_a_404(api):
    response = api.get("/v1/episodes/12345/replay/")
    assert (response.status_code, response.json()["code"]) == (404, "episode_not_found")
