"""The pages on a server that requires API keys, in a real browser: a staff login watches and
closes any instance (its CSRF token goes with the close), the agent page runs on a key and
closes its instances when left, and /docs declares the key (a padlock on each operation)."""

import json
import re
import time
import urllib.request

import pytest

from .conftest import save_screenshot
from .test_browser_pages import CREATE_STAFF, log_in


class KeyedApi:
    """A plain HTTP client of the server that sends an API key."""

    def __init__(self, base_url, key):
        self.base_url, self.key = base_url, key

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
            return json.loads(text) if text else None


@pytest.fixture(scope="module")
def keyed(tmp_path_factory):
    """A server requiring keys, a staff user on it, and a client with a key of its own."""
    from gymapi.testing.server import ServerProcess

    server = ServerProcess(tmp_path_factory.mktemp("keyed-server"), GYMAPI_REQUIRE_KEYS="1").start()
    try:
        server.manage("shell", "-c", CREATE_STAFF)
        key = server.manage("apikey", "create", "pages").strip()
        yield server, KeyedApi(server.url, key)
    finally:
        server.stop()


def test_a_staff_login_watches_and_closes_an_instance_of_a_key(keyed, page):
    server, api = keyed
    instance_id = api.call("POST", "/v1/envs/", {"env_id": "CartPole-v1", "render_mode": "rgb_array"})["instance_id"]
    api.call("POST", f"/v1/envs/{instance_id}/reset/", {"seed": 1})
    log_in(page, server.url)
    page.goto(f"{server.url}/monitor/")
    tile = page.locator(f'.tile[data-instance-id="{instance_id}"]')
    tile.locator("img.frame").wait_for()
    save_screenshot(page, "keys-monitor")

    tile.locator(".tile-close").click()
    page.locator("#close-dialog").get_by_role("button", name="Close the instance").click()
    tile.wait_for(state="detached")
    assert instance_id not in api.call("GET", "/v1/envs/")


def test_the_agent_runs_on_a_key_and_closes_its_instance_when_left(keyed, page):
    server, api = keyed
    log_in(page, server.url)
    page.goto(f"{server.url}/agent/")
    page.fill("#api-key", api.key)
    forever = (
        'const env = await gym.make("CartPole-v1");\n'
        "while (true) {\n"
        "  await env.reset();\n"
        "  let over = false;\n"
        "  while (!over) { const s = await env.step(1); over = s.terminated || s.truncated; }\n"
        "}\n"
    )
    page.evaluate("code => document.querySelector('#agent-editor .CodeMirror').CodeMirror.setValue(code)", forever)
    page.locator("#run").click()
    page.locator("#run-episodes", has_text=re.compile("[2-9]")).wait_for()
    (instance_id,) = api.call("GET", "/v1/envs/")

    page.goto(f"{server.url}/monitor/")  # leaving the agent page: its DELETE carries the key
    deadline = time.monotonic() + 15
    while instance_id in api.call("GET", "/v1/envs/") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert instance_id not in api.call("GET", "/v1/envs/")


def test_docs_show_the_padlock_while_keys_are_on(keyed, page):
    server, _ = keyed
    page.goto(f"{server.url}/docs")
    page.locator(".opblock-summary").first.wait_for()
    assert page.locator(".authorization__btn").count() == page.locator(".opblock").count() > 20
    assert page.locator(".auth-wrapper .authorize").is_visible()
    save_screenshot(page, "keys-docs")
