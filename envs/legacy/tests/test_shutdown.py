"""Legacy mode: POST /v1/shutdown/, only when GYMAPI_ALLOW_SHUTDOWN is on.

Here the process is not really stopped (it is the test run); test_client.py
shuts a real server down."""

import pytest

from envs.legacy import services as legacy_services
from envs.models import EnvInstance, InstanceStatus


@pytest.fixture
def stops(monkeypatch):
    calls = []
    monkeypatch.setattr(legacy_services, "stop_process", lambda: calls.append("stop"))
    return calls


def test_it_refuses_to_shut_down_by_default(legacy, stops):
    instance_id = legacy.create()

    response = legacy.post("/v1/shutdown/", None)

    assert response.status_code == 403
    assert "GYMAPI_ALLOW_SHUTDOWN" in response.json()["message"]
    assert stops == []
    assert EnvInstance.objects.get(pk=instance_id).status == InstanceStatus.ACTIVE


@pytest.mark.parametrize("path", ["/v1/shutdown/", "/v1/shutdown"])
def test_it_closes_every_instance_then_stops_when_allowed(legacy, stops, settings, path):
    settings.GYMAPI_ALLOW_SHUTDOWN = True
    instance_ids = [legacy.create(), legacy.create("Pendulum-v1")]

    response = legacy.post(path, None)

    assert response.status_code == 200
    assert response.json() == {"message": "Server shutting down"}
    assert stops == ["stop"]
    assert {instance.status for instance in EnvInstance.objects.filter(pk__in=instance_ids)} == {InstanceStatus.CLOSED}
