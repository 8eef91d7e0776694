"""API keys in the admin: added with the key shown once, revoked by an action, never deleted;
staff see every key's instances with their owner."""

import re

import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.test import Client

from envs import access
from envs.models import ApiKey, EnvInstance

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff():
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.org", "pw"))
    return client


def test_it_lists_the_keys_with_their_active_instances(staff):
    api_key, _ = ApiKey.objects.create_key(name="alice")
    EnvInstance.objects.create(env_id="CartPole-v1", owner=api_key)
    EnvInstance.objects.create(env_id="CartPole-v1", owner=api_key, status="closed")
    response = staff.get("/admin/envs/apikey/")
    assert response.status_code == 200
    assert b"alice" in response.content and api_key.prefix.encode() in response.content
    assert re.search(rb'class="field-active_instances">1<', response.content)


def test_adding_a_key_shows_it_once_and_stores_its_hash(staff):
    response = staff.post("/admin/envs/apikey/add/", {"name": "ci-runner"}, follow=True)
    assert response.status_code == 200
    shown = [str(message) for message in get_messages(response.wsgi_request)] + [response.content.decode()]
    key = re.search(r"(gk_[A-Za-z0-9_-]{40,})", " ".join(shown)).group(1)
    api_key = ApiKey.objects.get(name="ci-runner")
    assert api_key.hashed_key == ApiKey.hash(key) and key.startswith(api_key.prefix)
    assert key not in staff.get(f"/admin/envs/apikey/{api_key.pk}/change/").content.decode()
    assert key not in staff.get("/admin/envs/apikey/").content.decode()


def test_the_revoke_action_stops_a_key_at_once(settings, staff):
    settings.GYMAPI_REQUIRE_KEYS = True
    api_key, key = ApiKey.objects.create_key(name="alice")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get("/v1/envs/").status_code == 200  # cached from now on
    response = staff.post("/admin/envs/apikey/", {"action": "revoke", "_selected_action": [api_key.pk]}, follow=True)
    assert response.status_code == 200
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert client.get("/v1/envs/").json()["code"] == "key_revoked"
    access.keys.forget()


def test_keys_cannot_be_deleted(staff):
    api_key, _ = ApiKey.objects.create_key(name="alice")
    assert staff.get(f"/admin/envs/apikey/{api_key.pk}/delete/").status_code == 403
    assert ApiKey.objects.filter(pk=api_key.pk).exists()


def test_staff_see_every_keys_instances_with_their_owner(staff):
    alice, _ = ApiKey.objects.create_key(name="alice")
    bob, _ = ApiKey.objects.create_key(name="bob")
    ids = [EnvInstance.objects.create(env_id="CartPole-v1", owner=owner).id for owner in (alice, bob, None)]
    response = staff.get("/admin/envs/envinstance/")
    assert all(str(instance_id).encode() in response.content for instance_id in ids)
    assert b"alice (gk_" in response.content and b"bob (gk_" in response.content
    filtered = staff.get(f"/admin/envs/envinstance/?owner__id__exact={alice.pk}")
    assert str(ids[0]).encode() in filtered.content and str(ids[1]).encode() not in filtered.content
