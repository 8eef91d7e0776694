"""envs/http/parity.py: the fast path mirrors Django's middleware stack, and steps aside when
that stack, or a setting it mirrors, is one it does not follow."""

import json

import pytest
from django.conf import settings

from envs.http.parity import MIRRORED_MIDDLEWARE, Parity

from .test_fastpath import call, normalized
from .test_keys_asgi import Counting

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

JSON = {"content-type": "application/json"}


async def test_the_mirrored_stack_is_the_configured_one():
    # A change of MIDDLEWARE fails here until parity.py mirrors the new stack.
    assert tuple(settings.MIDDLEWARE) == MIRRORED_MIDDLEWARE
    assert Parity().active


@pytest.mark.parametrize(
    "changed",
    [
        {"MIDDLEWARE": [*MIRRORED_MIDDLEWARE, "django.middleware.gzip.GZipMiddleware"]},
        {"MIDDLEWARE": [name for name in MIRRORED_MIDDLEWARE if "clickjacking" not in name]},
        {"SECURE_SSL_REDIRECT": True},
        {"SECURE_HSTS_SECONDS": 3600},
    ],
)
async def test_it_takes_nothing_under_a_stack_it_does_not_mirror(changed):
    with pytest.MonkeyPatch.context() as patch:
        for name, value in changed.items():
            patch.setattr(settings, name, value)
        parity = Parity()
    scope = {"type": "http", "method": "POST", "path": "/v1/envs/x/step/", "query_string": b"",
             "headers": [(b"host", b"testserver"), (b"content-type", b"application/json")]}
    assert not parity.active and parity.takes(scope) is None


@pytest.mark.parametrize(
    "changed",
    [
        {},
        {"ALLOWED_HOSTS": ["gym.example.org"]},
        {"ALLOWED_HOSTS": [".example.org", "testserver"]},
        {"X_FRAME_OPTIONS": "SAMEORIGIN", "SECURE_REFERRER_POLICY": "no-referrer"},
        {"SECURE_CONTENT_TYPE_NOSNIFF": False, "SECURE_CROSS_ORIGIN_OPENER_POLICY": None},
        {"CORS_ALLOWED_ORIGINS": ["http://agent.example:8080"], "CORS_URLS_REGEX": r"^/v1/"},
        {"CORS_ALLOW_ALL_ORIGINS": True, "CORS_URLS_REGEX": r"^/v1/"},
    ],
)
async def test_it_answers_as_django_under_the_settings_it_mirrors(changed):
    from django.core.handlers.asgi import ASGIHandler

    from envs.http.fastpath import FastPath
    from gymapi.asgi import http_app

    ids = {}
    for name in ("fast", "django"):
        status, _, content = await call(http_app.app, "POST", "/v1/envs/", b'{"env_id": "CartPole-v1", "seed": 2}', JSON)
        ids[name] = json.loads(content)["instance_id"]
    headers = {**JSON, "origin": "http://agent.example:8080"}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in changed.items():
            patch.setattr(settings, name, value)
        django_app = ASGIHandler()  # Django's middleware read these settings when built, as the fast path does
        apps = {"fast": FastPath(Counting(django_app)), "django": django_app}
        answers = {}
        for name, app in apps.items():
            created = ids[name]
            answers[name] = [
                normalized(await call(app, "POST", f"/v1/envs/{created}/{action}/", body, headers), created)
                for action, body in (("reset", b"{}"), ("step", b'{"action": 1}'), ("step", b'{"action": 9}'))
            ]
    assert answers["fast"] == answers["django"]
