"""Legacy mode: the monitor records episodes as video (Gymnasium's RecordVideo)
into folders under MEDIA_ROOT, listed and downloaded through the API. Each
owner has a root of its own there: a key never sees, resumes or clears another's."""

import pytest
from django.conf import settings

from envs.runtime import runtime
from envs.tests.keyed import alice, bob, client_with, key_id, keys_on  # noqa: F401 (fixtures)


def start(legacy, instance_id, directory="cartpole-1", force=False, resume=False, video_callable=False):
    # All four fields, always, as the older Python client sends them.
    body = {"directory": directory, "force": force, "resume": resume, "video_callable": video_callable}
    return legacy.post(f"/v1/envs/{instance_id}/monitor/start/", body)


def play_episode(legacy, instance_id, steps=None):
    """Reset, then push left until the pole falls (or ``steps`` steps)."""
    legacy.post(f"/v1/envs/{instance_id}/reset/", None)
    for step in range(500):
        if steps is not None and step == steps:
            return
        if legacy.post(f"/v1/envs/{instance_id}/step/", {"action": 0, "render": False}).json()["done"]:
            return


def monitor_dir(owner="anyone"):
    """The monitor root of ``owner``: ``anyone`` when keys are off, ``keys/<id>`` for a key."""
    return settings.MEDIA_ROOT / "monitor" / owner


def videos(folder):
    return sorted(path.name for path in folder.glob("*.mp4"))


def test_it_records_episodes_as_video(legacy):
    instance_id = legacy.create()

    response = start(legacy, instance_id, video_callable=True)
    play_episode(legacy, instance_id)
    play_episode(legacy, instance_id, steps=5)
    closed = legacy.post(f"/v1/envs/{instance_id}/monitor/close/", None)

    assert response.status_code == 204 and response.content == b""
    assert closed.status_code == 204
    names = videos(monitor_dir() / "cartpole-1")
    assert [name.rsplit("-", 1)[-1] for name in names] == ["0.mp4", "1.mp4"]
    assert all(name.startswith("openaigym.video.") for name in names)
    assert not runtime.get(instance_id).recording_video


@pytest.mark.parametrize(
    "video_callable, recorded",
    [
        (True, ["0", "1", "2"]),
        (2, ["0", "2"]),
        (False, ["0", "1"]),  # Gymnasium's default schedule: 0, 1, 8, 27, ...
    ],
)
def test_it_picks_episodes_by_video_callable(legacy, video_callable, recorded):
    instance_id = legacy.create()
    start(legacy, instance_id, video_callable=video_callable)

    for _ in range(3):
        play_episode(legacy, instance_id, steps=3)
    legacy.post(f"/v1/envs/{instance_id}/monitor/close/", None)

    names = videos(monitor_dir() / "cartpole-1")
    assert [name.rsplit("-", 1)[-1].removesuffix(".mp4") for name in names] == recorded


def test_it_lists_and_serves_the_files(legacy):
    instance_id = legacy.create()
    start(legacy, instance_id, directory="/tmp/cartpole-experiment-1", force=True, video_callable=True)
    play_episode(legacy, instance_id, steps=10)
    legacy.post(f"/v1/envs/{instance_id}/monitor/close/", None)

    listing = legacy.get(f"/v1/envs/{instance_id}/monitor/files/")

    assert listing.status_code == 200
    body = listing.json()
    assert body["directory"] == "tmp/cartpole-experiment-1"
    assert body["recording"] is False
    [entry] = body["files"]
    path = monitor_dir() / "tmp" / "cartpole-experiment-1" / entry["name"]
    assert entry["size"] == path.stat().st_size > 0
    assert entry["url"] == f"/v1/envs/{instance_id}/monitor/files/{entry['name']}"

    download = legacy.get(entry["url"])

    assert download.status_code == 200
    assert download["Content-Disposition"] == f'attachment; filename="{entry["name"]}"'
    content = b"".join(download.streaming_content)
    assert content == path.read_bytes()
    assert content[4:8] == b"ftyp"  # an MP4 container


def test_it_says_when_no_monitor_was_started(legacy):
    instance_id = legacy.create()

    response = legacy.get(f"/v1/envs/{instance_id}/monitor/files/")

    assert response.status_code == 400
    assert "No monitor was started" in response.json()["message"]


@pytest.mark.parametrize("name", ["missing.mp4", "..", ".hidden", "..%2F..%2Fsecret.txt"])
def test_it_serves_only_files_of_the_monitor_folder(legacy, name):
    (settings.MEDIA_ROOT / "secret.txt").parent.mkdir(parents=True, exist_ok=True)
    (settings.MEDIA_ROOT / "secret.txt").write_text("not yours")
    (monitor_dir() / "cartpole-1").mkdir(parents=True)
    (monitor_dir() / "cartpole-1" / ".hidden").write_text("not listed")
    instance_id = legacy.create()
    start(legacy, instance_id, resume=True)

    response = legacy.get(f"/v1/envs/{instance_id}/monitor/files/{name}")

    assert response.status_code in (400, 404)
    assert "message" in response.json()
    assert legacy.get(f"/v1/envs/{instance_id}/monitor/files/").json()["files"] == []


@pytest.mark.parametrize(
    "directory, folder",
    [
        ("cartpole-1", "cartpole-1"),
        ("/tmp/cartpole-experiment-1", "tmp/cartpole-experiment-1"),
        ("../escape", "escape"),
        ("../../../etc", "etc"),
        ("a/../../b/./c", "a/b/c"),
        ("..\\..\\windows", "windows"),
        ("C:\\Users\\me\\runs", "C_/Users/me/runs"),
        ("~/runs/$HOME;rm -rf", "_/runs/_HOME_rm_-rf"),
        (".hidden/run", "hidden/run"),
    ],
)
def test_it_keeps_every_folder_under_the_media_root(legacy, directory, folder):
    instance_id = legacy.create()

    response = start(legacy, instance_id, directory=directory)

    assert response.status_code == 204, response.content
    assert legacy.get(f"/v1/envs/{instance_id}/monitor/files/").json()["directory"] == folder
    assert (monitor_dir() / folder).is_dir()
    # Nothing was made beside the media root, nor in it outside the monitor folder.
    assert [path.name for path in settings.MEDIA_ROOT.parent.iterdir()] == ["media"]
    assert [path.name for path in settings.MEDIA_ROOT.iterdir()] == ["monitor"]
    assert [path.name for path in (settings.MEDIA_ROOT / "monitor").iterdir()] == ["anyone"]


@pytest.mark.parametrize("directory", ["", "   ", "/", "..", "../..", "./.", None, 42, ["runs"]])
def test_it_refuses_a_directory_that_names_no_folder(legacy, directory):
    instance_id = legacy.create()

    response = start(legacy, instance_id, directory=directory)

    assert response.status_code == 400
    assert "directory" in response.json()["message"]
    assert not runtime.get(instance_id).recording_video
    assert not settings.MEDIA_ROOT.exists()


def test_it_refuses_a_folder_linked_outside_the_media_root(legacy, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    monitor_dir().mkdir(parents=True)
    (monitor_dir() / "link").symlink_to(outside)
    instance_id = legacy.create()

    response = start(legacy, instance_id, directory="link/runs")

    assert response.status_code == 400
    assert "outside" in response.json()["message"]
    assert list(outside.iterdir()) == []


def test_it_refuses_a_folder_with_monitor_files_unless_forced_or_resumed(legacy):
    first = legacy.create()
    start(legacy, first, video_callable=True)
    play_episode(legacy, first, steps=3)
    legacy.post(f"/v1/envs/{first}/close/", None)  # closing writes the video too
    folder = monitor_dir() / "cartpole-1"
    [old] = videos(folder)
    second = legacy.create()

    refused = start(legacy, second)

    assert refused.status_code == 400
    assert "existing monitor files" in refused.json()["message"]
    assert videos(folder) == [old]


def test_it_keeps_the_files_when_resumed(legacy):
    first = legacy.create()
    start(legacy, first, video_callable=True)
    play_episode(legacy, first, steps=3)
    legacy.post(f"/v1/envs/{first}/monitor/close/", None)
    [old] = videos(monitor_dir() / "cartpole-1")

    assert start(legacy, first, resume=True, video_callable=True).status_code == 204
    play_episode(legacy, first, steps=3)
    legacy.post(f"/v1/envs/{first}/monitor/close/", None)

    names = videos(monitor_dir() / "cartpole-1")
    assert len(names) == 2 and old in names


def test_it_clears_the_monitor_files_when_forced(legacy):
    folder = monitor_dir() / "cartpole-1"
    folder.mkdir(parents=True)
    (folder / "openaigym.video.old-episode-0.mp4").write_bytes(b"old")
    (folder / "notes.txt").write_text("the client's own")
    instance_id = legacy.create()

    assert start(legacy, instance_id, force=True).status_code == 204

    assert sorted(path.name for path in folder.iterdir()) == ["notes.txt"]


def test_it_records_one_monitor_at_a_time(legacy):
    instance_id = legacy.create()
    start(legacy, instance_id)

    response = start(legacy, instance_id, directory="other", force=True)

    assert response.status_code == 400
    assert "already recording" in response.json()["message"]


def test_it_refuses_an_instance_that_renders_no_frames(legacy):
    instance_id = legacy.create("FrozenLake-v1", render_mode="ansi")

    response = start(legacy, instance_id)

    assert response.status_code == 400
    assert "cannot be recorded as video" in response.json()["message"]


@pytest.mark.parametrize("video_callable", [0, -3, 1.5, "yes"])
def test_it_refuses_a_video_callable_it_cannot_read(legacy, video_callable):
    instance_id = legacy.create()

    response = start(legacy, instance_id, video_callable=video_callable)

    assert response.status_code == 400
    assert "video_callable" in response.json()["message"]


def test_it_closes_a_monitor_that_was_never_started(legacy):
    instance_id = legacy.create()

    assert legacy.post(f"/v1/envs/{instance_id}/monitor/close/", None).status_code == 204


def test_it_keeps_stepping_after_the_monitor_closed(legacy):
    instance_id = legacy.create()
    start(legacy, instance_id, video_callable=True)
    play_episode(legacy, instance_id, steps=3)
    legacy.post(f"/v1/envs/{instance_id}/monitor/close/", None)

    response = legacy.post(f"/v1/envs/{instance_id}/step/", {"action": 1, "render": False})

    assert response.status_code == 200
    play_episode(legacy, instance_id, steps=3)
    assert len(videos(monitor_dir() / "cartpole-1")) == 1  # nothing recorded after the close


# --- owners ---------------------------------------------------------------------------


@pytest.fixture
def keyed(legacy, keys_on):
    """Legacy mode requiring keys; requests go through ``client_with(key)``."""
    return keys_on


def keyed_start(key, instance_id, **body):
    body = {"directory": "runs/exp", "force": False, "resume": False, "video_callable": True, **body}
    return client_with(key).post(f"/v1/envs/{instance_id}/monitor/start/", body)


def keyed_episode(key, instance_id):
    client = client_with(key)
    client.post(f"/v1/envs/{instance_id}/reset/", None)
    for _ in range(3):
        client.post(f"/v1/envs/{instance_id}/step/", {"action": 0, "render": False})
    client.post(f"/v1/envs/{instance_id}/monitor/close/", None)


def keyed_instance(key):
    response = client_with(key).post("/v1/envs/", {"env_id": "CartPole-v1"})
    assert response.status_code == 200, response.content
    return response.json()["instance_id"]


def test_each_key_records_under_a_root_of_its_own(keyed, alice, bob):
    mine, theirs = keyed_instance(alice), keyed_instance(bob)
    for key, instance_id in ((alice, mine), (bob, theirs)):
        assert keyed_start(key, instance_id).status_code == 204
        keyed_episode(key, instance_id)

    for key in (alice, bob):
        folder = monitor_dir(f"keys/{key_id(key)}") / "runs" / "exp"
        assert len(videos(folder)) == 1
    listing = client_with(alice).get(f"/v1/envs/{mine}/monitor/files/").json()
    assert listing["directory"] == "runs/exp"  # as the client named it, under its own root
    assert [entry["name"] for entry in listing["files"]] == videos(monitor_dir(f"keys/{key_id(alice)}") / "runs" / "exp")


@pytest.mark.parametrize("flags", [{"resume": True}, {"force": True}, {"resume": True, "force": True}])
def test_another_key_neither_lists_downloads_nor_clears_a_keys_folder_of_the_same_name(keyed, alice, bob, flags):
    mine = keyed_instance(alice)
    keyed_start(alice, mine)
    keyed_episode(alice, mine)
    alices = monitor_dir(f"keys/{key_id(alice)}") / "runs" / "exp"
    [video] = videos(alices)
    before = {path.name: path.read_bytes() for path in alices.iterdir()}
    theirs = keyed_instance(bob)

    started = keyed_start(bob, theirs, **flags)
    listing = client_with(bob).get(f"/v1/envs/{theirs}/monitor/files/")
    download = client_with(bob).get(f"/v1/envs/{theirs}/monitor/files/{video}")

    assert started.status_code == 204, started.content
    assert listing.status_code == 200 and listing.json()["files"] == []
    assert download.status_code == 400 and "No file" in download.json()["message"]
    assert {path.name: path.read_bytes() for path in alices.iterdir()} == before  # nothing cleared
    assert [entry["name"] for entry in client_with(alice).get(f"/v1/envs/{mine}/monitor/files/").json()["files"]] == [video]


def test_another_keys_folder_of_the_same_name_is_not_in_the_way(keyed, alice, bob):
    mine = keyed_instance(alice)
    keyed_start(alice, mine)
    keyed_episode(alice, mine)

    # Bob's folder of that name is empty: no "existing monitor files" refusal, nothing to force.
    assert keyed_start(bob, keyed_instance(bob)).status_code == 204
