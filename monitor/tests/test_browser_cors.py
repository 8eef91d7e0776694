"""An in-browser agent on another origin, in a real browser (Debian's chromium):
it plays CartPole through gymapi-client.js with its key when the server allows
its origin (GYMAPI_CORS_ORIGINS), and the browser stops it when it does not.

The server requires keys; the agent's page is served by a plain HTTP server on
another loopback port (another origin), and loads the client from the server.
"""

import functools
import http.server
import json
import threading
import urllib.request

import pytest

AGENT_PAGE = """<!doctype html>
<html><body>
<script src="{api}/static/monitor/gymapi-client.js"></script>
<script>
(async () => {{
  const key = new URLSearchParams(location.search).get("key");
  try {{
    const client = new GymClient("{api}", {{ apiKey: key }});
    const env = await client.make("CartPole-v1", {{ seed: 1 }});
    let {{ observation }} = await env.reset();
    let total = 0, over = false;
    while (!over) {{
      const state = await env.step(observation[2] + 0.5 * observation[3] > 0 ? 1 : 0);
      observation = state.observation;
      total += state.reward;
      over = state.terminated || state.truncated;
    }}
    await env.close();
    document.body.dataset.result = String(total);
  }} catch (error) {{
    document.body.dataset.error = error instanceof GymApiError ? `${{error.status}} ${{error.code}}` : error.name;
  }}
}})();
</script>
</body></html>
"""


class PageServer:
    """A plain HTTP server of one folder on a free loopback port: another origin than the API's."""

    def __init__(self, folder):
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
        handler.log_message = lambda *args: None
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """(API server, its key, an allowed page origin, a page origin it does not allow)."""
    from gymapi.testing.server import ServerProcess

    folder = tmp_path_factory.mktemp("pages")
    allowed, other = PageServer(folder), PageServer(folder)
    server = ServerProcess(
        tmp_path_factory.mktemp("cors-server"), GYMAPI_REQUIRE_KEYS="1", GYMAPI_CORS_ORIGINS=allowed.origin
    )
    (folder / "agent.html").write_text(AGENT_PAGE.format(api=server.url))
    server.start()
    try:
        key = server.manage("apikey", "create", "browser").strip()
        yield server, key, allowed.origin, other.origin
    finally:
        server.stop()
        allowed.stop()
        other.stop()


def active_instances(server, key):
    request = urllib.request.Request(f"{server.url}/v1/envs/", headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def outcome(page):
    page.locator("body[data-result], body[data-error]").wait_for(state="attached", timeout=60_000)
    return page.locator("body").get_attribute("data-result"), page.locator("body").get_attribute("data-error")


def test_an_allowed_origin_plays_an_episode_with_its_key(site, page):
    server, key, allowed, _ = site
    page.goto(f"{allowed}/agent.html?key={key}")
    result, error = outcome(page)
    assert error is None and float(result) >= 20  # the lean-following policy balances for a while
    assert active_instances(server, key) == {}  # it closed what it made


def test_an_allowed_origin_without_a_key_reads_the_401(site, page):
    _, _, allowed, _ = site
    page.goto(f"{allowed}/agent.html")
    assert outcome(page) == (None, "401 not_authenticated")


def test_another_origin_is_stopped_by_the_browser_even_with_a_key(site, page):
    server, key, _, other = site
    page.goto(f"{other}/agent.html?key={key}")
    assert outcome(page) == (None, "TypeError")  # fetch failed: no Access-Control-Allow-Origin for it
    assert active_instances(server, key) == {}  # its preflight created nothing


def test_the_server_said_at_start_up_that_keys_are_required(site):
    server = site[0]
    with open(server.log.name, "rb") as log:
        assert b"API keys required" in log.read()
