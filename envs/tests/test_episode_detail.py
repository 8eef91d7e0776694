"""GET /v1/episodes/{id}/: one episode's figures, with what replays it (its reset's options and its
actions as JSON values) and why a replay would be refused."""

import pytest

from envs.models import Episode

from .episodes import play, played
from .keyed import alice, bob, client_with, create, keys_on  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


def test_it_shows_the_episode_with_its_options_and_actions(api, make_instance):
    instance_id = make_instance()
    sent = play(api, instance_id, seed=7, options={"low": -0.02, "high": 0.02})
    episode = Episode.objects.get(instance_id=instance_id)
    body = api.get(f"/v1/episodes/{episode.id}/").json()
    assert body["id"] == episode.id and body["seed"] == 7 and body["steps"] == len(sent)
    assert (body["options"], body["actions"], body["unreplayable"]) == ({"low": -0.02, "high": 0.02}, sent, None)


def test_it_shows_box_actions_as_lists(api, make_instance):
    instance_id = make_instance("Pendulum-v1")
    play(api, instance_id, seed=0, policy=lambda step: [0.25 * (step % 3)], steps=4)
    api.delete(f"/v1/envs/{instance_id}/")
    body = api.get(f"/v1/episodes/{Episode.objects.get().id}/").json()
    assert body["actions"] == [[0.0], [0.25], [0.5], [0.0]] and body["outcome"] == "interrupted"


def test_it_says_why_an_episode_without_actions_cannot_be_replayed(api):
    played(api, record_actions=False)
    body = api.get(f"/v1/episodes/{Episode.objects.get().id}/").json()
    assert body["actions"] is None and body["unreplayable"]["code"] == "actions_not_recorded"
    assert "record_actions was off" in body["unreplayable"]["detail"]


@pytest.mark.parametrize("episode_id", ["999999", "abc", "1e3", "-1", "00"])
def test_an_unknown_episode_is_a_404(api, episode_id):
    played(api)
    response = api.get(f"/v1/episodes/{episode_id}/")
    assert response.status_code == 404 and response.json()["code"] in ("episode_not_found", "not_found")


def test_another_keys_episode_is_the_404_of_an_unknown_one(keys_on, alice, bob):
    alices, bobs = client_with(alice), client_with(bob)
    play(bobs, create(bobs), seed=0)
    theirs = Episode.objects.get().id
    for path in ("", "replay/", "video.mp4", "video.gif"):
        foreign = alices.get(f"/v1/episodes/{theirs}/{path}")
        unknown = alices.get(f"/v1/episodes/{theirs + 1000}/{path}")
        assert foreign.status_code == unknown.status_code == 404, path
        assert foreign.json()["detail"].replace(str(theirs), "N") == unknown.json()["detail"].replace(str(theirs + 1000), "N")
    assert bobs.get(f"/v1/episodes/{theirs}/").status_code == 200
