"""The announcement's curl session and Python Env wrapper, against a real server.

These send exactly what the seed's clients send (bodies, headers, trailing
slashes) over a socket, so the contract is checked end to end.
"""

import json
import sqlite3
import urllib.request


def call(method, url, body=None, headers=None):
    data = None if body is None else body.encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode()
        return response.status, (json.loads(text) if text else None)


def test_it_answers_the_curl_session(server):
    server = server.url
    json_header = {"Content-Type": "application/json"}
    status, created = call("POST", f"{server}/v1/envs/", '{"env_id":"CartPole-v1"}', json_header)
    assert status == 201 and set(created) == {"instance_id"}
    instance = f"{server}/v1/envs/{created['instance_id']}"

    status, reset = call("POST", f"{instance}/reset/")  # curl -X POST with no body
    assert status == 200 and set(reset) == {"observation", "info"} and len(reset["observation"]) == 4

    status, step = call("POST", f"{instance}/step/", '{"action": 0}', json_header)
    assert status == 200
    assert {"observation", "reward", "terminated", "truncated", "info"} <= set(step)
    assert step["reward"] == 1.0


def test_it_runs_the_python_env_wrapper_episode(server):
    # The seed's Env wrapper: json bodies through requests-style calls, {} for reset.
    base = f"{server.url}/v1/envs"
    json_header = {"Content-Type": "application/json"}
    instance_id = call("POST", f"{base}/", json.dumps({"env_id": "CartPole-v1"}), json_header)[1]["instance_id"]
    assert instance_id in call("GET", f"{base}/")[1]
    initial = call("POST", f"{base}/{instance_id}/reset/", "{}", json_header)[1]
    assert len(initial["observation"]) == 4 and initial["info"] == {}

    total_reward, episode_over, steps = 0, False, 0
    while not episode_over and steps < 1000:
        state = call("POST", f"{base}/{instance_id}/step/", json.dumps({"action": 0}), json_header)[1]
        total_reward += state["reward"]
        episode_over = state["terminated"] or state["truncated"]
        steps += 1
    assert episode_over and total_reward == steps

    status, closed = call("DELETE", f"{base}/{instance_id}/")
    # The seed's browser client parses every answer as JSON: its env.close() needs a body.
    assert status == 200 and closed["message"] == "Environment closed and deleted."
    assert instance_id not in call("GET", f"{base}/")[1]

    # The episode is recorded, as the admin shows it: steps, return, outcome.
    with sqlite3.connect(server.database) as db:
        rows = db.execute(
            "select e.steps, e.total_reward, e.terminated, i.status from envs_episode e"
            " join envs_envinstance i on i.id = e.instance_id where i.id = ?",
            (instance_id.replace("-", ""),),
        ).fetchall()
    assert rows == [(steps, total_reward, 1, "closed")]
