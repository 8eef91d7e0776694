"""manage.py apikey create NAME | revoke NAME-OR-PREFIX | list."""

import io

import pytest
from django.core.management import CommandError, call_command

from envs.models import ApiKey

pytestmark = pytest.mark.django_db


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("apikey", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_create_prints_the_key_alone_and_stores_its_hash():
    out, err = run("create", "alice")
    key = out.strip()
    assert key.startswith("gk_") and "\n" not in key
    assert "shown only now" in err
    api_key = ApiKey.objects.get(name="alice")
    assert api_key.hashed_key == ApiKey.hash(key) and not api_key.revoked


def test_create_refuses_a_name_taken_or_empty():
    run("create", "alice")
    with pytest.raises(CommandError, match="exists already"):
        run("create", "alice")
    with pytest.raises(CommandError, match="needs a name"):
        run("create", "  ")


@pytest.mark.parametrize("how", ["name", "prefix", "key"])
def test_revoke_by_name_prefix_or_the_key_itself(how):
    key = run("create", "alice")[0].strip()
    run("create", "bob")
    given = {"name": "alice", "prefix": ApiKey.objects.get(name="alice").prefix, "key": key}[how]
    out, _ = run("revoke", given)
    assert "Revoked alice" in out
    assert ApiKey.objects.get(name="alice").revoked and not ApiKey.objects.get(name="bob").revoked
    assert "revoked already" in run("revoke", "alice")[0]


def test_revoke_refuses_an_ambiguous_or_unknown_name():
    run("create", "alice")
    run("create", "bob")
    with pytest.raises(CommandError, match="several keys"):
        run("revoke", "gk_")
    with pytest.raises(CommandError, match="No key"):
        run("revoke", "carol")
    assert not ApiKey.objects.filter(revoked_at__isnull=False).exists()


def test_list_shows_every_key_without_its_secret():
    key = run("create", "alice")[0].strip()
    run("create", "bob")
    run("revoke", "bob")
    lines = run("list")[0].splitlines()
    assert lines[0].split() == ["NAME", "PREFIX", "CREATED", "LAST", "USED", "REVOKED", "ACTIVE"]
    assert lines[1].startswith("alice") and lines[1].split()[-2:] == ["-", "0"]
    assert lines[2].startswith("bob") and lines[2].split()[-2] != "-"
    assert key not in "\n".join(lines)
