"""What the server says at start-up about who may use it (gymapi/serve.py logs it)."""

import ipaddress
import logging
import os

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def is_loopback(host):
    """Whether ``host`` (what the server binds) is reachable from this machine only."""
    host = host.strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def access_mode(host):
    """``(level, message)``: keys required or not, loud when the server is open beyond loopback."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gymapi.settings")
    from django.conf import settings

    if settings.GYMAPI_REQUIRE_KEYS:
        return logging.INFO, (
            f"API keys required (GYMAPI_REQUIRE_KEYS=1) on {host}: every /v1 and ws/ route takes one; "
            "create them with 'manage.py apikey create NAME' or in the admin."
        )
    if is_loopback(host):
        return logging.INFO, (
            f"API keys not required (GYMAPI_REQUIRE_KEYS=0): anyone on this machine may use every instance ({host})."
        )
    line = "!" * 78
    return logging.WARNING, (
        f"\n{line}\n"
        f"!!! Listening on {host} WITHOUT API keys (GYMAPI_REQUIRE_KEYS=0): anyone who can reach this\n"
        "!!! port can create, drive and close every instance. Set GYMAPI_REQUIRE_KEYS=1 and create keys\n"
        "!!! (README: Deployment for a team), or listen on 127.0.0.1.\n"
        f"{line}"
    )
