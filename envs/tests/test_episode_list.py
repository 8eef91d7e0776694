"""GET /v1/episodes/: every recorded episode the caller may see, newest first, in cursor pages,
filtered (django-filter), and as CSV."""

import csv
import io

import pytest
from django.test import AsyncClient
from django.utils import timezone

from envs import selectors, views_episodes
from envs.models import EnvInstance, Episode

from .episodes import play, played
from .keyed import alice, bob, client_with, create, keys_on  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

FIELDS = {
    "id", "instance_id", "env_id", "number", "sub_env", "seed", "steps", "return", "terminated", "truncated", "outcome",
    "started", "ended",
}


def test_it_lists_every_episode_newest_first(api):
    first = played(api, episodes=2)
    second = played(api, "MountainCar-v0", episodes=1)
    body = api.get("/v1/episodes/").json()
    assert set(body) == {"next", "previous", "results"}
    results = body["results"]
    assert [(row["instance_id"], row["number"]) for row in results] == [(second, 1), (first, 2), (first, 1)]
    assert set(results[0]) == FIELDS
    episode = Episode.objects.get(instance_id=first, number=1)
    assert results[2] == {
        "id": episode.id, "instance_id": first, "env_id": "CartPole-v1", "number": 1, "sub_env": 0, "seed": 0,
        "steps": episode.steps, "return": episode.total_reward, "terminated": True, "truncated": False,
        "outcome": "terminated", "started": results[2]["started"], "ended": results[2]["ended"],
    }


def test_it_pages_with_a_cursor(api):
    played(api, episodes=5)
    page = api.get("/v1/episodes/?page_size=2").json()
    seen = [row["id"] for row in page["results"]]
    while page["next"]:
        page = api.get(page["next"]).json()
        seen += [row["id"] for row in page["results"]]
    assert seen == sorted(Episode.objects.values_list("id", flat=True), reverse=True)


def test_it_filters_by_env_instance_outcome_return_steps_and_end(api):
    cartpole = played(api, episodes=3)
    played(api, "MountainCar-v0", episodes=1, max_episode_steps=20)
    running = api.post("/v1/envs/", {"env_id": "CartPole-v1"}).json()["instance_id"]
    play(api, running, seed=1, steps=3)
    api.post(f"/v1/envs/{running}/reset/", {})  # the first one interrupted

    def ids(query):
        response = api.get(f"/v1/episodes/?{query}")
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    episodes = Episode.objects.all()
    assert ids("env_id=MountainCar-v0") == set(episodes.filter(instance__env_id="MountainCar-v0").values_list("id", flat=True))
    assert ids(f"instance_id={cartpole}") == set(episodes.filter(instance_id=cartpole).values_list("id", flat=True))
    assert ids("outcome=truncated") == set(episodes.filter(truncated=True).values_list("id", flat=True))
    assert ids("outcome=interrupted") == set(episodes.filter(instance_id=running).values_list("id", flat=True))
    best = max(episodes.filter(instance_id=cartpole), key=lambda e: e.total_reward)
    assert best.id in ids(f"min_return={best.total_reward}&env_id=CartPole-v1")
    assert ids(f"max_return={best.total_reward - 0.5}&min_return=0") == set(
        episodes.filter(total_reward__lte=best.total_reward - 0.5, total_reward__gte=0).values_list("id", flat=True)
    )
    assert ids(f"min_steps={best.steps}") == set(episodes.filter(steps__gte=best.steps).values_list("id", flat=True))
    ended = best.ended_at.isoformat()
    assert best.id in ids(f"ended_after={ended.replace('+00:00', 'Z')}")
    assert best.id not in ids(f"ended_before={ended.replace('+', '%2B')}")


@pytest.mark.parametrize(
    "query, field",
    [
        ("min_return=abc", "min_return"),
        ("max_return=NaN", "max_return"),
        ("min_return=1e400", "min_return"),
        ("min_steps=1.5", "min_steps"),
        ("min_steps=-1", "min_steps"),
        ("min_steps=99999999999999999999999", "min_steps"),
        ("instance_id=not-a-uuid", "instance_id"),
        ("outcome=won", "outcome"),
        ("ended_after=yesterday", "ended_after"),
        ("ended_before=2026-13-45T00:00:00Z", "ended_before"),
        ("instance_id=", "instance_id"),
        ("min_return=", "min_return"),
    ],
)
def test_a_filter_of_the_wrong_type_is_a_400_naming_it(api, query, field):
    played(api)
    before = list(Episode.objects.values())
    response = api.get(f"/v1/episodes/?{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and field in body["fields"] and body["detail"].startswith(field)
    assert list(Episode.objects.values()) == before


@pytest.mark.parametrize("size", ["null", "0", "-3", "1.5"])
def test_a_page_size_that_is_not_a_positive_whole_number_is_a_400(api, size):
    response = api.get(f"/v1/episodes/?page_size={size}")
    assert response.status_code == 400 and "page_size" in response.json()["fields"]


def test_a_cursor_that_is_not_one_of_the_lists_is_a_400(api):
    response = api.get("/v1/episodes/?cursor=bz1hYmM%3D")
    assert response.status_code == 400 and "cursor" in response.json()["fields"]


def test_a_page_size_past_the_largest_is_the_largest(api):
    played(api, episodes=2)
    assert len(api.get("/v1/episodes/?page_size=5000").json()["results"]) == 2


def test_a_filter_of_the_wrong_type_is_a_json_400_even_when_csv_is_asked_for(api):
    response = api.get("/v1/episodes/?format=csv&min_steps=x")
    assert response.status_code == 400 and response["Content-Type"] == "application/json"
    assert "min_steps" in response.json()["fields"]


@pytest.mark.parametrize("how", ["query", "accept"])
def test_it_exports_the_same_rows_as_csv(api, how):
    played(api, episodes=3)
    if how == "query":
        response = api.get("/v1/episodes/?format=csv&min_steps=1")
    else:
        response = api.get("/v1/episodes/?min_steps=1", HTTP_ACCEPT="text/csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    listed = api.get("/v1/episodes/?min_steps=1").json()["results"]
    assert [int(row["id"]) for row in rows] == [row["id"] for row in listed]
    assert set(rows[0]) == FIELDS
    assert (rows[0]["terminated"], float(rows[0]["return"]), rows[0]["seed"]) == ("true", listed[0]["return"], "2")


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)  # the rows are read from the threads Django's ASGI handler runs sync code in
async def test_over_asgi_the_csv_is_read_and_sent_a_chunk_of_rows_at_a_time(monkeypatch):
    instance = await EnvInstance.objects.acreate(env_id="CartPole-v1")
    await Episode.objects.abulk_create(
        Episode(instance=instance, number=number, steps=number, total_reward=float(number), ended_at=timezone.now())
        for number in range(1, 251)
    )
    monkeypatch.setattr(views_episodes, "CSV_CHUNK", 100)
    summarized = []
    summary = selectors.episode_summary
    monkeypatch.setattr(selectors, "episode_summary", lambda episode: summarized.append(episode.pk) or summary(episode))
    response = await AsyncClient().get("/v1/episodes/?format=csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response.streaming and response.is_async  # Django sends it as it comes, never reading it into a list
    chunks, summarized_by_each = [], []
    async for chunk in response.streaming_content:
        chunks.append(chunk)
        summarized_by_each.append(len(summarized))
    assert summarized_by_each == [0, 100, 200, 250]  # the header, then no more rows read than one chunk sends
    rows = list(csv.DictReader(io.StringIO(b"".join(chunks).decode())))
    assert [int(row["number"]) for row in rows] == list(range(250, 0, -1))
    assert set(rows[0]) == FIELDS and (rows[0]["steps"], rows[0]["return"], rows[0]["outcome"]) == ("250", "250.0", "interrupted")


def test_with_keys_each_key_lists_only_its_own_instances_episodes(keys_on, alice, bob):
    alices, bobs = client_with(alice), client_with(bob)
    mine = create(alices)
    play(alices, mine, seed=0)
    play(bobs, create(bobs), seed=0)
    assert [row["instance_id"] for row in alices.get("/v1/episodes/").json()["results"]] == [mine]
    assert alices.get(f"/v1/episodes/?instance_id={mine}").json()["results"]
    rows = b"".join(alices.get("/v1/episodes/?format=csv").streaming_content).decode().splitlines()
    assert len(rows) == 2 and mine in rows[1]
    assert client_with().get("/v1/episodes/").status_code == 401


def test_a_staff_login_lists_every_keys_episodes(keys_on, alice, admin_client):
    client = client_with(alice)
    play(client, create(client), seed=0)
    assert len(admin_client.get("/v1/episodes/", HTTP_ACCEPT="application/json").json()["results"]) == 1
