"""/agent.html in a real browser: the agent, in a code editor (CodeMirror), runs against
the server, draws its frames, counts the episode's reward and steps and the run's
episodes, reports the server's errors, and closes its instances when the page is left."""

import re
import sqlite3
import time

from .conftest import save_screenshot

EDITOR = "document.querySelector('#agent-editor .CodeMirror').CodeMirror"


def code_of(page):
    return page.evaluate(f"{EDITOR}.getValue()")


def set_code(page, code):
    page.evaluate(f"code => {EDITOR}.setValue(code)", code)


def run(page, code=None):
    if code is not None:
        set_code(page, code)
    page.locator("#run").click()
    page.locator("#run-status.finished, #run-status.failed, #run-status.stopped").wait_for(timeout=120_000)
    return page.locator("#run-status").inner_text()


def test_it_runs_the_example_agent_and_counts_this_episodes_reward_and_steps_and_the_runs_episodes(server, page):
    page.goto(f"{server.url}/agent.html")
    example = code_of(page)
    assert "const EPISODES = 5;" in example
    assert run(page, example.replace("const EPISODES = 5;", "const EPISODES = 2;")) == "finished"

    log = page.locator("#log").inner_text()
    instance_id = re.search(r"Created ([0-9a-f-]{36})", log).group(1)
    totals = [float(total) for total in re.findall(r"Episode \d finished! Total reward: (\d+)", log)]
    assert len(totals) == 2
    # The counters say what they count: the last episode's reward and steps, the run's episodes.
    assert float(page.locator("#episode-reward").inner_text()) == totals[-1]
    assert int(page.locator("#episode-steps").inner_text()) == totals[-1]  # CartPole pays 1 a step
    assert page.locator("#run-episodes").inner_text() == "2"
    labels = page.locator(".scoreboard dt").all_inner_texts()
    assert [label.lower() for label in labels] == ["reward this episode", "steps this episode", "episodes this run", "status"]
    assert page.locator("#frame").is_visible() and page.locator("#error").is_hidden()
    save_screenshot(page, "agent")

    # The server recorded what the page ran: two finished episodes, and the instance closed.
    with sqlite3.connect(server.database) as db:
        rows = db.execute(
            "select e.steps, e.total_reward, e.terminated or e.truncated, i.status from envs_episode e "
            "join envs_envinstance i on i.id = e.instance_id where i.id = ? order by e.number",
            (instance_id.replace("-", ""),),
        ).fetchall()
    assert rows == [(total, total, 1, "closed") for total in totals]


def test_its_editor_has_line_numbers_wraps_lines_and_runs_what_was_typed(server, page):
    page.goto(f"{server.url}/agent.html")
    editor = page.locator("#agent-editor .CodeMirror")
    assert editor.is_visible() and page.locator("#code").is_hidden()
    assert "CodeMirror-wrap" in editor.get_attribute("class")
    numbers = page.locator("#agent-editor .CodeMirror-linenumber").all_inner_texts()
    assert [n for n in numbers if n][:3] == ["1", "2", "3"] and len(code_of(page).splitlines()) <= len(numbers)

    # Typed as a person would: everything selected, then a short agent in its place.
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.type('log("typed in the editor");\n')
    page.keyboard.press("Control+Enter")
    page.locator("#run-status.finished").wait_for()
    assert page.locator("#log").inner_text().strip() == "typed in the editor"

    page.locator("#restore").click()
    assert "const EPISODES = 5;" in code_of(page)


def test_leaving_the_page_closes_the_instances_of_the_run(server, server_api, page):
    page.goto(f"{server.url}/agent.html")
    before = set(server_api.call("GET", "/v1/envs/"))
    forever = (
        'const env = await gym.make("CartPole-v1");\n'
        "while (true) {\n"
        "  await env.reset();\n"
        "  let over = false;\n"
        "  while (!over) { const s = await env.step(0); over = s.terminated || s.truncated; }\n"
        "}\n"
    )
    set_code(page, forever)
    page.locator("#run").click()
    page.locator("#run-episodes", has_text=re.compile("[1-9]")).wait_for()
    (instance_id,) = set(server_api.call("GET", "/v1/envs/")) - before

    page.goto("about:blank")  # away from the page, mid-run
    deadline = time.monotonic() + 15
    while instance_id in server_api.call("GET", "/v1/envs/") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert instance_id not in server_api.call("GET", "/v1/envs/")


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
