"""At start-up the server says whether keys are required, loudly when it is open beyond loopback."""

import logging

import pytest

from gymapi.startup import access_mode, is_loopback


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"])
def test_loopback_hosts(host):
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "gym.example.org"])
def test_hosts_beyond_loopback(host):
    assert not is_loopback(host)


def test_keys_required_is_said_plainly(settings):
    settings.GYMAPI_REQUIRE_KEYS = True
    level, message = access_mode("0.0.0.0")
    assert level == logging.INFO and "API keys required" in message


def test_no_keys_on_loopback_is_said_plainly(settings):
    settings.GYMAPI_REQUIRE_KEYS = False
    level, message = access_mode("127.0.0.1")
    assert level == logging.INFO and "not required" in message


def test_no_keys_beyond_loopback_is_a_loud_warning(settings):
    settings.GYMAPI_REQUIRE_KEYS = False
    level, message = access_mode("0.0.0.0")
    assert level == logging.WARNING
    assert "WITHOUT API keys" in message and "GYMAPI_REQUIRE_KEYS=1" in message and message.count("\n") >= 4
