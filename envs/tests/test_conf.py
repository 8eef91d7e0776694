"""``envs.conf.hot``: settings read on the step path follow every change tests and overrides make."""

from django.test import override_settings

from envs.conf import hot


def test_hot_reads_the_setting(settings):
    assert hot.GYMAPI_FLUSH_SECONDS == settings.GYMAPI_FLUSH_SECONDS


def test_hot_follows_the_settings_fixture(settings):
    hot.GYMAPI_INLINE  # copied
    settings.GYMAPI_INLINE = not settings.GYMAPI_INLINE
    assert hot.GYMAPI_INLINE == settings.GYMAPI_INLINE


def test_hot_follows_override_settings_and_its_end():
    before = hot.GYMAPI_REQUIRE_KEYS
    with override_settings(GYMAPI_REQUIRE_KEYS=not before):
        assert hot.GYMAPI_REQUIRE_KEYS is (not before)
    assert hot.GYMAPI_REQUIRE_KEYS is before
