"""The pages: /, /monitor.html (/monitor/), /monitor/{id}/, /agent.html (/agent/), and the static files they use."""

import uuid

import pytest
from django.contrib.staticfiles import finders

from envs.models import EnvInstance, InstanceStatus

SCRIPTS = {
    "/monitor.html": ["gymapi-client.js", "live-view.js", "monitor.js"],
    "/monitor/": ["gymapi-client.js", "live-view.js", "monitor.js"],
    "/agent.html": ["gymapi-client.js", "live-view.js", "agent.js"],
    "/agent/": ["gymapi-client.js", "live-view.js", "agent.js"],
}


@pytest.mark.parametrize("path", list(SCRIPTS))
def test_it_serves_each_page_with_its_local_scripts(client, path):
    response = client.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    for script in SCRIPTS[path]:
        assert f'src="/static/monitor/{script}"' in html
    assert "//cdn" not in html and "https://" not in html


def test_it_links_every_page_from_the_landing_page(client):
    html = client.get("/").content.decode()
    for link in ('href="/monitor/"', 'href="/agent/"', 'href="/docs"', 'href="/admin/"'):
        assert link in html


def test_it_serves_an_instance_page_for_active_and_closed_instances(client, db):
    active = EnvInstance.objects.create(env_id="CartPole-v1", render_mode="rgb_array")
    closed = EnvInstance.objects.create(env_id="Taxi-v4", status=InstanceStatus.CLOSED)
    page = client.get(f"/monitor/{active.id}/").content.decode()
    assert f'data-instance-id="{active.id}"' in page and 'data-status="active"' in page
    assert "monitor/stream/" in page and "episode-chart.js" in page and "uPlot.iife.min.js" in page
    page = client.get(f"/monitor/{closed.id}/").content.decode()
    assert 'data-status="closed"' in page and "monitor/stream/" not in page


def test_it_answers_404_for_an_unknown_instance_page(client, db):
    assert client.get(f"/monitor/{uuid.uuid4()}/").status_code == 404


@pytest.mark.parametrize(
    "name", ["gymapi-client.js", "live-view.js", "monitor.js", "instance.js", "episode-chart.js", "agent.js", "style.css", "favicon.svg", "favicon.ico"]
)
def test_it_ships_every_asset_locally(name):
    assert finders.find(f"monitor/{name}")


def test_it_answers_favicon_ico_with_an_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    assert b"".join(response.streaming_content)[:4] == b"\x00\x00\x01\x00"  # an ICO file's header


def test_every_page_links_the_icon(client):
    html = client.get("/").content.decode()
    assert 'href="/favicon.ico"' in html and 'href="/static/monitor/favicon.svg"' in html
