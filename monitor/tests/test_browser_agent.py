"""/agent.html in a real browser: the editable agent runs against the server, draws
its frames and total reward, and reports the server's errors."""

import re
import sqlite3

from .conftest import save_screenshot


def run(page, code=None):
    if code is not None:
        page.locator("#code").fill(code)
    page.locator("#run").click()
    page.locator("#run-status.finished, #run-status.failed, #run-status.stopped").wait_for(timeout=120_000)
    return page.locator("#run-status").inner_text()


def test_it_runs_the_example_agent_to_the_end_of_an_episode_and_shows_the_total_reward(server, page):
    page.goto(f"{server.url}/agent.html")
    example = page.locator("#code").input_value()
    assert "const EPISODES = 5;" in example
    assert run(page, example.replace("const EPISODES = 5;", "const EPISODES = 1;")) == "finished"

    log = page.locator("#log").inner_text()
    instance_id = re.search(r"Created ([0-9a-f-]{36})", log).group(1)
    total = float(re.search(r"Episode 1 finished! Total reward: (\d+)", log).group(1))
    assert float(page.locator("#total").inner_text()) == total
    assert int(page.locator("#steps").inner_text()) == total  # CartPole pays 1 a step
    assert page.locator("#frame").is_visible() and page.locator("#error").is_hidden()
    save_screenshot(page, "agent")

    # The server recorded what the page ran: one finished episode, and the instance closed.
    with sqlite3.connect(server.database) as db:
        rows = db.execute(
            "select e.steps, e.total_reward, e.terminated or e.truncated, i.status from envs_episode e "
            "join envs_envinstance i on i.id = e.instance_id where i.id = ?",
            (instance_id.replace("-", ""),),
        ).fetchall()
    assert rows == [(total, total, 1, "closed")]


def test_it_reports_the_servers_error_in_the_page_and_closes_the_instance(server, server_api, page):
    page.goto(f"{server.url}/agent.html")
    active_before = server_api.call("GET", "/v1/envs/")
    code = 'const env = await gym.make("CartPole-v1");\nawait env.reset();\nawait env.step(7);\n'
    assert run(page, code) == "failed"
    error = page.locator("#error").inner_text()
    assert "400 (invalid_action)" in error and "Discrete(2)" in error
    assert server_api.call("GET", "/v1/envs/") == active_before
    save_screenshot(page, "agent-error")


def test_it_reports_a_mistake_in_the_agents_code(server, page):
    page.goto(f"{server.url}/agent.html")
    assert run(page, "await gym.make(") == "failed"
    assert "SyntaxError" in page.locator("#error").inner_text()


def test_it_shows_the_client_it_uses(server, page):
    page.goto(f"{server.url}/agent.html")
    page.locator("#client-source", has_text="class GymClient").wait_for()
    served = page.request.get(f"{server.url}/static/monitor/gymapi-client.js").text()
    assert page.locator("#client-source").inner_text().strip() == served.strip()
