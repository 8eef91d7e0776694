"""Two servers from one checkout on one database, as legacy mode's users run them: neither marks
the other's instances lost, each answers the other's with a 404 that says where it lives, and a
server that ended leaves its instances to be marked lost by the next one to start."""

import pytest
import requests

from gymapi.testing.server import ServerProcess


@pytest.fixture
def database_url(tmp_path):
    return f"sqlite:///{tmp_path / 'shared.sqlite3'}"


def start(tmp_path, name, database_url):
    directory = tmp_path / name
    directory.mkdir()
    return ServerProcess(directory, DATABASE_URL=database_url, LOG_LEVEL="WARNING").start()


def test_a_second_server_leaves_the_first_ones_instances_alone(tmp_path, database_url):
    with start(tmp_path, "first", database_url) as first:
        created = requests.post(f"{first.url}/v1/envs/", json={"env_id": "CartPole-v1"}, timeout=30).json()
        instance_id = created["instance_id"]
        assert requests.post(f"{first.url}/v1/envs/{instance_id}/reset/", json={}, timeout=30).status_code == 200
        with start(tmp_path, "second", database_url) as second:
            elsewhere = requests.get(f"{second.url}/v1/envs/{instance_id}/", timeout=30)
            assert elsewhere.status_code == 404 and elsewhere.json()["code"] == "instance_elsewhere"
            assert f"pid {first.process.pid}" in elsewhere.json()["detail"]
            # The first still serves it: neither the second's start nor its answer marked it lost.
            stepped = requests.post(f"{first.url}/v1/envs/{instance_id}/step/", json={"action": 0}, timeout=30)
            assert stepped.status_code == 200
            first.process.kill()
            first.process.wait()
            lost = requests.get(f"{second.url}/v1/envs/{instance_id}/", timeout=30)
            assert lost.status_code == 410 and lost.json()["code"] == "instance_lost"


def test_a_server_that_starts_marks_lost_the_instances_of_one_that_ended(tmp_path, database_url):
    with start(tmp_path, "first", database_url) as first:
        instance_id = requests.post(f"{first.url}/v1/envs/", json={"env_id": "CartPole-v1"}, timeout=30).json()["instance_id"]
        assert requests.post(f"{first.url}/v1/envs/{instance_id}/reset/", json={}, timeout=30).status_code == 200
        # A step answered and not written yet: no restart can take it up exactly (README, Restarts).
        assert requests.post(f"{first.url}/v1/envs/{instance_id}/step/", json={"action": 0}, timeout=30).status_code == 200
        first.process.kill()  # kill -9: its instances stay recorded active
        first.process.wait()
    with start(tmp_path, "second", database_url) as second:
        status = second.manage("shell", "-c", f"from envs.models import EnvInstance; print(EnvInstance.objects.get(pk='{instance_id}').status)")
        assert status.strip().splitlines()[-1] == "lost"
