"""The admin is the operations console: every page loads, and it is read-only."""

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


def test_it_shows_an_instance_with_its_episodes_inline(staff, instance):
    response = staff.get(f"/admin/envs/envinstance/{instance.pk}/change/")
    assert response.status_code == 200
    content = response.content.decode()
    assert "terminated" in content and "interrupted" in content  # each episode's outcome
    (inline,) = response.context["inline_admin_formsets"]
    assert [form.original.number for form in inline] == [1, 2]


def test_it_lists_episodes(staff, instance):
    response = staff.get("/admin/envs/episode/")
    assert response.status_code == 200
    assert response.context["cl"].result_count == 2


def test_it_filters_episodes_by_outcome_and_env_id(staff, instance):
    response = staff.get("/admin/envs/episode/", {"terminated__exact": "1", "instance__env_id": "CartPole-v1"})
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
