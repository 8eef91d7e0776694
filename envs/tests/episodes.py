"""Helpers for the tests of /v1/episodes/: play episodes through the API."""


def play(client, instance_id, *, seed=None, options=None, policy=lambda step: step % 2, steps=None):
    """Reset and step ``instance_id`` with ``policy(step)`` until its episode ends (or ``steps``
    steps); returns the actions sent."""
    body = {key: value for key, value in (("seed", seed), ("options", options)) if value is not None}
    assert client.post(f"/v1/envs/{instance_id}/reset/", body).status_code == 200
    sent = []
    while steps is None or len(sent) < steps:
        action = policy(len(sent))
        sent.append(action)
        if client.post(f"/v1/envs/{instance_id}/step/", {"action": action}).json()["done"]:
            break
    return sent


def played(client, env_id="CartPole-v1", episodes=1, **fields):
    """A new instance of ``env_id`` that played ``episodes`` whole episodes (seeded 0, 1, ...)
    and was closed; returns its id."""
    response = client.post("/v1/envs/", {"env_id": env_id, **fields})
    assert response.status_code == 201, response.content
    instance_id = response.json()["instance_id"]
    for number in range(episodes):
        play(client, instance_id, seed=number)
    assert client.delete(f"/v1/envs/{instance_id}/").status_code == 200
    return instance_id
