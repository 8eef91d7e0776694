"""When the server requires API keys, the monitor, instance and agent pages take a
staff login (the admin's); the landing page stays open. Keys off, nothing changes."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

from envs.models import EnvInstance

pytestmark = pytest.mark.django_db

PAGES = ["/monitor.html", "/monitor/", "/agent.html", "/agent/", "/monitor/{id}/"]


@pytest.fixture
def instance_id():
    return str(EnvInstance.objects.create(env_id="CartPole-v1").id)


def browser(**flags):
    """A browser logged in as a new user with ``flags`` (is_staff=True...)."""
    client = Client()
    client.force_login(User.objects.create_user("erin", password="pw", **flags))
    return client


@pytest.mark.parametrize("page", PAGES)
def test_a_visitor_is_sent_to_the_login(settings, instance_id, page):
    settings.GYMAPI_REQUIRE_KEYS = True
    response = Client().get(page.format(id=instance_id))
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/?next=")


@pytest.mark.parametrize("page", PAGES)
def test_a_logged_in_user_who_is_not_staff_is_sent_to_the_login(settings, instance_id, page):
    settings.GYMAPI_REQUIRE_KEYS = True
    response = browser().get(page.format(id=instance_id))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.parametrize("page", PAGES)
def test_staff_see_the_pages(settings, instance_id, page):
    settings.GYMAPI_REQUIRE_KEYS = True
    assert browser(is_staff=True).get(page.format(id=instance_id)).status_code == 200


@pytest.mark.parametrize("page", PAGES)
def test_keys_off_anyone_sees_the_pages(instance_id, page):
    assert Client().get(page.format(id=instance_id)).status_code == 200


def test_the_landing_page_stays_open(settings):
    settings.GYMAPI_REQUIRE_KEYS = True
    assert Client().get("/").status_code == 200


def test_the_agent_page_asks_for_a_key_only_when_keys_are_required(settings):
    assert b'id="api-key"' not in Client().get("/agent/").content
    settings.GYMAPI_REQUIRE_KEYS = True
    assert b'id="api-key"' in browser(is_staff=True).get("/agent/").content
