"""manage.py mark_lost [--dry-run]: instances left active by a previous process become lost."""

import sys
from io import StringIO

import pytest
from django.core.management import call_command, get_commands, load_command_class
from django.utils import timezone

from envs.models import EnvInstance, InstanceStatus


def mark_lost(*args):
    out = StringIO()
    call_command("mark_lost", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def orphan(db):
    """An instance recorded active that no environment in this process holds."""
    return EnvInstance.objects.create(env_id="CartPole-v1")


def test_it_marks_instances_left_active_as_lost(orphan):
    other = EnvInstance.objects.create(env_id="Pendulum-v1")
    output = mark_lost()
    assert "Marked 2 instance(s) lost." in output
    for instance in (orphan, other):
        instance.refresh_from_db()
        assert instance.status == InstanceStatus.LOST
        assert instance.closed_at is not None


def test_it_says_when_there_is_nothing_to_mark(db):
    assert "Marked 0 instance(s) lost." in mark_lost()


def test_it_leaves_closed_and_lost_instances_alone(db):
    closed_at = timezone.now() - timezone.timedelta(days=1)
    closed = EnvInstance.objects.create(env_id="CartPole-v1", status=InstanceStatus.CLOSED, closed_at=closed_at)
    lost = EnvInstance.objects.create(env_id="CartPole-v1", status=InstanceStatus.LOST, closed_at=closed_at)
    assert "Marked 0 instance(s) lost." in mark_lost()
    for instance, status in ((closed, InstanceStatus.CLOSED), (lost, InstanceStatus.LOST)):
        instance.refresh_from_db()
        assert (instance.status, instance.closed_at) == (status, closed_at)


def test_it_leaves_instances_live_in_this_process_alone(make_instance, orphan):
    live_id = make_instance()
    assert "Marked 1 instance(s) lost." in mark_lost()
    assert EnvInstance.objects.get(pk=live_id).status == InstanceStatus.ACTIVE


def test_it_makes_the_api_answer_410_lost(api, orphan):
    mark_lost()
    response = api.get(f"/v1/envs/{orphan.id}/")
    assert response.status_code == 410
    assert response.json()["code"] == "instance_lost"


def test_it_only_counts_on_a_dry_run(make_instance, orphan):
    make_instance()  # live here: neither counted nor marked
    EnvInstance.objects.create(env_id="CartPole-v1", status=InstanceStatus.CLOSED)
    output = mark_lost("--dry-run")
    assert "1 active instance(s) would be marked lost." in output
    orphan.refresh_from_db()
    assert (orphan.status, orphan.closed_at) == (InstanceStatus.ACTIVE, None)
    assert "Marked 1 instance(s) lost." in mark_lost()  # the count the dry run promised


def test_it_explains_itself():
    assert get_commands()["mark_lost"] == "envs"
    command = load_command_class("envs", "mark_lost")
    assert "lost" in command.help and "--dry-run" in command.help
    assert "previous server process" in sys.modules[type(command).__module__].__doc__
    parser = command.create_parser("manage.py", "mark_lost")
    assert "--dry-run" in parser.format_help()
