"""An episode watched again in a real browser: a click on a point of the instance page's returns chart
plays that episode's video (GET /v1/episodes/{id}/video.mp4, H.264), and the admin's episode page shows
it with a replay button."""

import pytest

from .conftest import save_screenshot

WIDTHS = {"desktop": {"width": 1400, "height": 900}, "phone": {"width": 390, "height": 844}}


def played_instance(server_api, episodes=3):
    instance_id = server_api.create("CartPole-v1", max_episode_steps=40)
    for seed in range(episodes):
        server_api.run_episode(instance_id, lambda observation: int(observation[2] > 0), seed=seed)
    return instance_id


def ready_state(page):
    return page.evaluate("document.getElementById('episode-video').readyState")


@pytest.mark.parametrize("width", list(WIDTHS))
def test_a_click_on_the_chart_plays_that_episodes_video(server, server_api, browser, width):
    instance_id = played_instance(server_api)
    context = browser.new_context(viewport=WIDTHS[width])
    context.set_default_timeout(60_000)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(f"{server.url}/monitor/{instance_id}/")
        panel = page.locator('#chart[data-episodes="3"] .chart-return .u-over')
        panel.wait_for()
        box = panel.bounding_box()
        panel.click(position={"x": box["width"] - 2, "y": box["height"] / 2})  # the last episode
        page.wait_for_function("document.getElementById('episode-video').readyState >= 2")
        src = page.locator("#episode-video").get_attribute("src")
        episodes = server_api.call("GET", f"/v1/envs/{instance_id}/episodes/")["episodes"]
        assert src == f"/v1/episodes/{episodes[-1]['id']}/video.mp4" and src.endswith(".mp4")
        assert ready_state(page) >= 2
        assert page.evaluate("document.getElementById('episode-video').videoWidth") == 600
        # One frame per state at CartPole's 50 frames a second: the reset's and each step's.
        duration = page.evaluate("document.getElementById('episode-video').duration")
        assert duration == pytest.approx((episodes[-1]["steps"] + 1) / 50, abs=0.03)
        page.locator("#episode-video-note", has_text="replayed from its seed").wait_for()
        page.locator("#episode-video").scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        save_screenshot(page, f"page-instance-video-{width}")
        assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0
    finally:
        context.close()
    assert errors == []


def test_the_admin_episode_page_plays_its_video_and_replays_it(server, server_api, browser):
    instance_id = played_instance(server_api, episodes=1)
    episode_id = server_api.call("GET", f"/v1/envs/{instance_id}/episodes/")["episodes"][0]["id"]
    server.manage("shell", "-c", (
        "from django.contrib.auth.models import User; "
        "User.objects.filter(username='video').exists() or User.objects.create_superuser('video', 'v@example.org', 'pw')"
    ))
    context = browser.new_context(viewport=WIDTHS["desktop"])
    context.set_default_timeout(60_000)
    page = context.new_page()
    try:
        page.goto(f"{server.url}/admin/login/?next=/admin/envs/episode/{episode_id}/change/")
        page.fill("#id_username", "video")
        page.fill("#id_password", "pw")
        page.locator("input[type=submit]").click()
        page.wait_for_url(f"**/admin/envs/episode/{episode_id}/change/")
        assert page.locator("#episode-video").get_attribute("src") == f"/v1/episodes/{episode_id}/video.mp4"
        page.wait_for_function("document.getElementById('episode-video').readyState >= 2")
        page.locator("#replay-button").click()
        page.locator("#replay-result", has_text="Reproduced").wait_for()
        page.wait_for_timeout(300)
        save_screenshot(page, "page-admin-episode-desktop")
    finally:
        context.close()
