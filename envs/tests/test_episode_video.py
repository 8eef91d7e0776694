"""GET /v1/episodes/{id}/video.mp4 and video.gif: the episode replayed in rgb_array mode, one frame per
state (its reset's included), made once and kept under MEDIA_ROOT; a second request for a video being
made waits for it."""

import os
import threading

import imageio_ffmpeg
import pytest

from envs.models import Episode
from envs.services import videos
from envs.services.replay import slots

from .episodes import play, played


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def body(response):
    return b"".join(response.streaming_content)


@pytest.mark.django_db
def test_it_makes_an_h264_mp4_with_a_frame_per_state_and_keeps_it(api, media, monkeypatch):
    played(api)
    episode = Episode.objects.get()
    response = api.get(f"/v1/episodes/{episode.id}/video.mp4")
    assert response.status_code == 200 and response["Content-Type"] == "video/mp4"
    data = body(response)
    assert data[4:8] == b"ftyp" and data.find(b"moov") < data.find(b"mdat")  # its index first: plays as it loads
    kept = media / "episodes" / f"{episode.id}.mp4"
    assert kept.read_bytes() == data
    frames, _ = imageio_ffmpeg.count_frames_and_secs(str(kept))
    assert frames == episode.steps + 1
    reader = imageio_ffmpeg.read_frames(str(kept))
    assert next(reader)["codec"] == "h264"
    reader.close()
    monkeypatch.setattr(videos, "_render", lambda *args: pytest.fail("rendered again"))
    assert body(api.get(f"/v1/episodes/{episode.id}/video.mp4")) == data


@pytest.mark.django_db
def test_it_makes_a_gif(api, media):
    played(api)
    response = api.get(f"/v1/episodes/{Episode.objects.get().id}/video.gif")
    assert response.status_code == 200 and response["Content-Type"] == "image/gif"
    assert body(response)[:6] == b"GIF89a"


@pytest.mark.django_db(transaction=True)
def test_a_second_request_for_a_video_being_made_waits_for_it(api, media, monkeypatch):
    played(api)
    episode = Episode.objects.get()
    render, started, made = videos._render, threading.Event(), []

    def slow_render(*args):
        started.set()
        made.append(args)
        threading.Event().wait(0.5)  # long enough for the second request to arrive meanwhile
        render(*args)

    monkeypatch.setattr(videos, "_render", slow_render)
    answers = []
    first = threading.Thread(target=lambda: answers.append(body(api.get(f"/v1/episodes/{episode.id}/video.mp4"))))
    first.start()
    assert started.wait(30)
    second = body(api.get(f"/v1/episodes/{episode.id}/video.mp4"))
    first.join(60)
    assert len(made) == 1 and answers == [second] and second[4:8] == b"ftyp"
    assert videos.renders._held == {}


@pytest.mark.django_db
def test_a_running_episodes_video_is_refused_until_it_ends(api, media, make_instance, settings):
    settings.GYMAPI_FLUSH_SECONDS = 0
    instance_id = make_instance()
    play(api, instance_id, seed=0, steps=3)
    response = api.get(f"/v1/episodes/{Episode.objects.get().id}/video.mp4")
    assert (response.status_code, response.json()["code"]) == (409, "episode_running")


@pytest.mark.django_db
def test_an_episode_that_cannot_be_replayed_has_no_video(api, media):
    played(api, record_actions=False)
    response = api.get(f"/v1/episodes/{Episode.objects.get().id}/video.gif", HTTP_ACCEPT="image/gif")
    assert (response.status_code, response.json()["code"]) == (409, "actions_not_recorded")
    assert not (media / "episodes").exists() or not any((media / "episodes").iterdir())


@pytest.mark.django_db
def test_a_video_that_fails_leaves_no_file(api, media, monkeypatch):
    played(api)
    monkeypatch.setattr(videos, "GIF_WIDTH", "not a number")  # ffmpeg refuses the filter
    response = api.get(f"/v1/episodes/{Episode.objects.get().id}/video.gif")
    assert (response.status_code, response.json()["code"]) == (409, "not_renderable")
    assert list((media / "episodes").iterdir()) == []


@pytest.mark.django_db
def test_an_unknown_episodes_video_is_a_404(api, media):
    response = api.get("/v1/episodes/4242/video.mp4", HTTP_ACCEPT="video/mp4")
    assert (response.status_code, response.json()["code"]) == (404, "episode_not_found")


@pytest.mark.django_db
def test_a_video_is_refused_while_replays_take_every_slot(api, media, settings):
    played(api)
    settings.GYMAPI_MAX_REPLAYS = 1
    slots.take()  # a replay under way: replays and renders share the bound
    try:
        response = api.get(f"/v1/episodes/{Episode.objects.get().id}/video.mp4")
    finally:
        slots.give()
    assert (response.status_code, response.json()["code"], response["Retry-After"]) == (503, "replays_busy", "5")
    assert not (media / "episodes").exists()


def kept_videos(media, sizes):
    """Videos already kept, ``{name: kilobytes}``, written one after another in that order."""
    folder = media / "episodes"
    folder.mkdir(exist_ok=True)
    for age, (name, kilobytes) in enumerate(sizes.items()):
        (folder / name).write_bytes(b"x" * kilobytes * 1024)
        os.utime(folder / name, (1_000_000 + age, 1_000_000 + age))
    return folder


@pytest.mark.django_db
def test_writing_a_video_evicts_the_oldest_kept_until_they_fit(api, media, settings):
    played(api)
    settings.GYMAPI_MAX_VIDEO_MB = 1
    folder = kept_videos(media, {"9007.gif": 400, "9005.mp4": 400, "9006.mp4": 400})
    (folder / ".a1b2.8.mp4").write_bytes(b"x" * 400 * 1024)  # another render's file, still being written
    episode = Episode.objects.get()
    response = api.get(f"/v1/episodes/{episode.id}/video.mp4")
    assert response.status_code == 200 and body(response)[4:8] == b"ftyp"
    assert sorted(path.name for path in folder.iterdir()) == sorted([".a1b2.8.mp4", "9005.mp4", "9006.mp4", f"{episode.id}.mp4"])


def test_the_video_just_written_is_kept_even_alone_past_the_cap(media, settings):
    settings.GYMAPI_MAX_VIDEO_MB = 0.5
    folder = kept_videos(media, {"1.mp4": 100, "2.gif": 600})
    videos.evict(keep=folder / "2.gif")
    assert [path.name for path in folder.iterdir()] == ["2.gif"]
    settings.GYMAPI_MAX_VIDEO_MB = 0  # no bound
    kept_videos(media, {"3.mp4": 2000})
    videos.evict(keep=folder / "3.mp4")
    assert sorted(path.name for path in folder.iterdir()) == ["2.gif", "3.mp4"]
