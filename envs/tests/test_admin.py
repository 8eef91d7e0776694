"""The admin is the operations console: every page loads, and it is read-only.

Instances are listed with short ids; an instance's page charts its episodes, lists the latest,
and links to all of them, to its monitor page and to its environment's page, which charts
every instance's episodes of that environment id over time."""

import datetime
import json

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from envs.models import EnvInstance, Episode, InstanceStatus


@pytest.fixture
def staff(db):
    """A logged-in superuser's browser."""
    user = User.objects.create_superuser("alice", "alice@example.org", "password")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def instance(db):
    """A closed CartPole instance with a finished and an interrupted episode."""
    instance = EnvInstance.objects.create(env_id="CartPole-v1", seed=3, status=InstanceStatus.CLOSED, closed_at=timezone.now())
    Episode.objects.create(
        instance=instance, number=1, seed=3, steps=21, total_reward=21.0, terminated=True, ended_at=timezone.now()
    )
    Episode.objects.create(instance=instance, number=2, steps=7, total_reward=7.0, ended_at=timezone.now())
    return instance


def test_it_loads_the_admin_index(staff):
    response = staff.get("/admin/")
    assert response.status_code == 200
    assert b"Environment instances" in response.content


def test_it_lists_instances_with_their_episode_and_step_counts(staff, instance):
    EnvInstance.objects.create(env_id="Pendulum-v1")
    response = staff.get("/admin/envs/envinstance/")
    assert response.status_code == 200
    assert response.context["cl"].result_count == 2
    content = response.content.decode()
    assert str(instance.id) in content and "Pendulum-v1" in content
    assert ">28<" in content  # 21 + 7 steps


def test_it_filters_instances_by_status(staff, instance):
    active = EnvInstance.objects.create(env_id="CartPole-v1")
    response = staff.get("/admin/envs/envinstance/", {"status__exact": "active"})
    assert response.status_code == 200
    assert [row.pk for row in response.context["cl"].result_list] == [active.pk]


def test_it_filters_instances_by_env_id(staff, instance):
    EnvInstance.objects.create(env_id="Pendulum-v1")
    response = staff.get("/admin/envs/envinstance/", {"env_id": "CartPole-v1"})
    assert response.status_code == 200
    assert [row.pk for row in response.context["cl"].result_list] == [instance.pk]


def test_it_searches_instances_by_id(staff, instance):
    EnvInstance.objects.create(env_id="CartPole-v1")
    response = staff.get("/admin/envs/envinstance/", {"q": str(instance.id)})
    assert response.status_code == 200
    assert [row.pk for row in response.context["cl"].result_list] == [instance.pk]


def test_it_lists_instances_by_a_short_id_linking_to_the_record(staff, instance):
    content = staff.get("/admin/envs/envinstance/").content.decode()
    short = str(instance.id)[:8]
    assert f'<code title="{instance.id}">{short}</code>' in content
    assert f'href="/admin/envs/envinstance/{instance.id}/change/"' in content
    assert 'href="/admin/envs/envinstance/environment/CartPole-v1/"' in content


def test_it_shows_an_instance_with_its_latest_episodes_a_chart_and_links(staff, instance):
    response = staff.get(f"/admin/envs/envinstance/{instance.pk}/change/")
    assert response.status_code == 200
    content = response.content.decode()
    assert "terminated" in content and "interrupted" in content  # each episode's outcome
    assert [row["episode"].number for row in response.context["recent_episodes"]] == [2, 1]  # latest first
    rows = json.loads(content.split('id="chart-rows" type="application/json">')[1].split("</script>")[0])  # the chart's data
    assert [(row["number"], row["return"], row["outcome"]) for row in rows] == [(1, 21.0, "terminated"), (2, 7.0, "interrupted")]
    assert 'id="episode-chart"' in content and "uPlot.iife.min.js" in content and "episode-chart.js" in content
    assert f'href="/monitor/{instance.id}/"' in content
    assert f'href="/admin/envs/episode/?instance__id__exact={instance.id}"' in content
    assert 'href="/admin/envs/envinstance/environment/CartPole-v1/"' in content
    assert not response.context["inline_admin_formsets"]  # no inline of every episode


def test_it_lists_only_the_latest_episodes_of_a_long_instance(staff, instance):
    Episode.objects.bulk_create(
        Episode(instance=instance, number=n, steps=1, total_reward=1.0, terminated=True, ended_at=timezone.now())
        for n in range(3, 103)
    )
    response = staff.get(f"/admin/envs/envinstance/{instance.pk}/change/")
    assert [row["episode"].number for row in response.context["recent_episodes"]] == list(range(102, 82, -1))
    assert "All 102 episodes" in response.content.decode()


def test_it_lists_one_instances_episodes_from_its_page(staff, instance):
    other = EnvInstance.objects.create(env_id="CartPole-v1")
    Episode.objects.create(instance=other, number=1, steps=3, total_reward=3.0, ended_at=timezone.now())
    response = staff.get("/admin/envs/episode/", {"instance__id__exact": str(instance.id)})
    assert response.status_code == 200
    assert sorted(episode.number for episode in response.context["cl"].result_list) == [1, 2]
    assert f"Episodes of CartPole-v1 {str(instance.id)[:8]}" in response.content.decode()


def test_a_malformed_instance_filter_is_the_admins_usual_error(staff, instance):
    response = staff.get("/admin/envs/episode/", {"instance__id__exact": "not-an-id"})
    assert response.status_code == 302 and "e=1" in response["Location"]


def test_an_environment_page_needs_the_view_permission(db):
    user = User.objects.create_user("bob", password="pw", is_staff=True)  # staff, but no permission
    client = Client()
    client.force_login(user)
    assert client.get("/admin/envs/envinstance/environment/CartPole-v1/").status_code == 403


def test_it_shows_durations_in_human_units(staff, instance):
    start = timezone.now()
    Episode.objects.filter(instance=instance, number=1).update(started_at=start, ended_at=start + datetime.timedelta(seconds=2.34))
    Episode.objects.filter(instance=instance, number=2).update(started_at=start, ended_at=start + datetime.timedelta(minutes=4, seconds=5))
    content = staff.get("/admin/envs/episode/").content.decode()
    assert "2.3 s" in content and "4 min" in content
    assert "2.3 s" in staff.get(f"/admin/envs/envinstance/{instance.pk}/change/").content.decode()


@pytest.mark.parametrize(
    "seconds, spoken",
    [(0.4, "0.4 s"), (2.34, "2.3 s"), (59.9, "59.9 s"), (240, "4 min"), (3600, "1 h"), (7500, "2 h 5 min"), (86400, "1 day"), (3 * 86400, "3 days")],
)
def test_human_duration(seconds, spoken):
    from envs.admin import human_duration

    assert human_duration(datetime.timedelta(seconds=seconds)) == spoken
    assert human_duration(None) == "–"


def test_an_environment_page_charts_every_instances_episodes_over_time(staff, instance):
    other = EnvInstance.objects.create(env_id="CartPole-v1")
    Episode.objects.create(instance=other, number=1, steps=30, total_reward=30.0, terminated=True, ended_at=timezone.now())
    EnvInstance.objects.create(env_id="Pendulum-v1")
    response = staff.get("/admin/envs/envinstance/environment/CartPole-v1/")
    assert response.status_code == 200
    content = response.content.decode()
    assert "2 instances · 3 episodes · best return 30" in " ".join(content.split())
    assert {row["instance"] for row in response.context["chart_rows"]} == {str(instance.id), str(other.id)}
    assert 'data-x="time"' in content and "Returns over time" in content
    assert len(response.context["rows"]) == 3


def test_an_environment_page_takes_ids_with_a_slash(staff, db):
    EnvInstance.objects.create(env_id="ALE/Pong-v5")
    assert staff.get("/admin/envs/envinstance/environment/ALE/Pong-v5/").status_code == 200


def test_it_lists_episodes(staff, instance):
    response = staff.get("/admin/envs/episode/")
    assert response.status_code == 200
    assert response.context["cl"].result_count == 2


def test_it_filters_episodes_by_outcome_and_env_id(staff, instance):
    response = staff.get("/admin/envs/episode/", {"outcome": "terminated", "instance__env_id": "CartPole-v1"})
    assert response.status_code == 200
    assert [episode.number for episode in response.context["cl"].result_list] == [1]


def test_it_shows_an_episode(staff, instance):
    episode = instance.episodes.get(number=1)
    assert staff.get(f"/admin/envs/episode/{episode.pk}/change/").status_code == 200


def test_it_is_read_only(staff, instance):
    episode = instance.episodes.get(number=1)
    assert staff.get("/admin/envs/envinstance/add/").status_code == 403
    assert staff.get("/admin/envs/episode/add/").status_code == 403
    assert staff.get(f"/admin/envs/envinstance/{instance.pk}/delete/").status_code == 403
    assert staff.get(f"/admin/envs/episode/{episode.pk}/delete/").status_code == 403
    response = staff.post(f"/admin/envs/envinstance/{instance.pk}/change/", {"env_id": "Pendulum-v1"})
    assert response.status_code == 403
    instance.refresh_from_db()
    assert instance.env_id == "CartPole-v1"


@pytest.mark.parametrize("model", [EnvInstance, Episode])
def test_it_grants_no_add_change_or_delete_permission(staff, rf, model):
    request = rf.get("/admin/")
    request.user = User.objects.get(username="alice")
    model_admin = admin.site._registry[model]
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert model_admin.has_view_permission(request)


def test_it_sends_anonymous_visitors_to_the_login_page(db):
    response = Client().get("/admin/envs/envinstance/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_it_filters_episodes_by_outcome_and_date(staff, instance):
    Episode.objects.filter(number=2).update(ended_at=timezone.now() - datetime.timedelta(days=30))
    interrupted = staff.get("/admin/envs/episode/", {"outcome": "interrupted"})
    assert [episode.number for episode in interrupted.context["cl"].result_list] == [2]
    midnight = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    today = staff.get("/admin/envs/episode/", {"ended_at__gte": str(midnight)})
    assert [episode.number for episode in today.context["cl"].result_list] == [1]


def test_an_episode_page_shows_its_actions_video_and_replay_button(staff, api):
    instance_id = api.post("/v1/envs/", {"env_id": "CartPole-v1"}).json()["instance_id"]
    api.post(f"/v1/envs/{instance_id}/reset/", {"seed": 1})
    for action in (0, 0, 1):
        api.post(f"/v1/envs/{instance_id}/step/", {"action": action})
    api.delete(f"/v1/envs/{instance_id}/")
    episode = Episode.objects.get(instance_id=instance_id)
    content = staff.get(f"/admin/envs/episode/{episode.pk}/change/").content.decode()
    assert "3 actions (0: 2 · 1: 1)" in content and "<code>0, 0, 1</code>" in content
    assert f'src="/v1/episodes/{episode.pk}/video.mp4"' in content and 'id="replay-button"' in content
    assert "replayable: its seed" in content


def test_an_episode_page_says_why_it_cannot_be_replayed(staff, instance):
    episode = instance.episodes.get(number=1)  # recorded without actions
    content = staff.get(f"/admin/envs/episode/{episode.pk}/change/").content.decode()
    assert "its actions were not recorded" in content and "<video" not in content and "replay-button" not in content
