"""/monitor.html in a real browser: live tiles that follow the server without polling,
say how long their instance has been idle, and close it after a confirm dialog."""

import io

from PIL import Image

from .conftest import save_screenshot


def tile(page, instance_id):
    return page.locator(f'.tile[data-instance-id="{instance_id}"]')


def test_it_shows_a_tile_whose_frame_changes_as_a_client_steps_its_cartpole(server, server_api, page):
    page.goto(f"{server.url}/monitor.html")
    page.locator("#connection.live").wait_for()
    cartpole = server_api.create("CartPole-v1", render_mode="rgb_array")
    server_api.reset(cartpole, seed=1)
    frame = tile(page, cartpole).locator("img.frame")
    frame.wait_for()
    page.wait_for_function("img => img.complete && img.naturalWidth === 600", arg=frame.element_handle())
    before = frame.screenshot()
    version = frame.get_attribute("data-version")

    for _ in range(6):
        server_api.step(cartpole, 1)  # pushed right: the cart moves and the pole tips
    page.wait_for_function(
        "([img, version]) => img.dataset.version !== version && img.complete", arg=[frame.element_handle(), version]
    )
    tile(page, cartpole).locator("dd.step", has_text="6").wait_for()
    assert frame.screenshot() != before
    assert tile(page, cartpole).locator(".env-id").inner_text() == "CartPole-v1"

    # CartPole's frame is white to its corners: no dark dots of the view's background there.
    view = Image.open(io.BytesIO(tile(page, cartpole).locator(".view").screenshot())).convert("L")
    width, height = view.size
    for corner in [(0, 0), (width - 1, 0), (0, height - 1), (width - 1, height - 1)]:
        assert view.getpixel(corner) > 200, corner

    # A text instance and a pixel-art one beside it, for the screenshot.
    taxi = server_api.create("Taxi-v4", render_mode="ansi")
    server_api.reset(taxi, seed=2)
    lake = server_api.create("FrozenLake-v1", render_mode="rgb_array")
    server_api.reset(lake, seed=3)
    server_api.step(lake, 2)
    tile(page, taxi).locator("pre.ansi", has_text="R: |").wait_for()
    tile(page, lake).locator("img.frame").wait_for()
    page.wait_for_timeout(300)  # let the last frames decode before the picture is taken
    save_screenshot(page, "monitor")


def test_it_adds_a_tile_for_a_new_instance_and_removes_it_when_closed(server, server_api, page):
    page.goto(f"{server.url}/monitor/")
    page.locator("#connection.live").wait_for()
    instance_id = server_api.create("CartPole-v1")
    tile(page, instance_id).wait_for()
    assert "no render mode" in tile(page, instance_id).inner_text()
    server_api.close(instance_id)
    tile(page, instance_id).wait_for(state="detached")


def test_it_opens_the_instance_page_from_a_tile(server, server_api, page):
    instance_id = server_api.create("CartPole-v1", render_mode="rgb_array")
    server_api.reset(instance_id)
    page.goto(f"{server.url}/monitor.html")
    tile(page, instance_id).click()
    page.wait_for_url(f"**/monitor/{instance_id}/")
    page.locator("#view img.frame").wait_for()


def test_it_says_in_words_how_old_and_how_idle_an_instance_is(server, server_api, page):
    page.clock.install()
    instance_id = server_api.create("CartPole-v1", render_mode="rgb_array", max_episode_steps=20)
    server_api.reset(instance_id, seed=1)
    page.goto(f"{server.url}/monitor/")
    activity = tile(page, instance_id).locator(".activity")
    activity.filter(has_text="Created").wait_for()
    assert "idle" not in activity.inner_text()

    page.clock.fast_forward("03:10")
    activity.filter(has_text="idle 3 min").wait_for()
    assert activity.inner_text() == "Created 3 min ago · idle 3 min"
    save_screenshot(page, "monitor-idle")

    # A reset (ending episode 1, which took no step) and steps: no longer idle; an episode's end is told as a sentence.
    server_api.run_episode(instance_id, lambda observation: 1)
    tile(page, instance_id).locator(".last-episode", has_text="Episode 2 ended after").wait_for()
    page.wait_for_function(
        "tile => !tile.querySelector('.activity').textContent.includes('idle')",
        arg=tile(page, instance_id).element_handle(),
    )
    assert tile(page, instance_id).locator(".last-episode").inner_text().endswith(".")


def test_it_closes_an_instance_from_its_tile_after_a_confirm_dialog(server, server_api, page):
    instance_id = server_api.create("CartPole-v1", render_mode="rgb_array")
    server_api.reset(instance_id, seed=1)
    page.goto(f"{server.url}/monitor/")
    dialog = page.locator("#close-dialog")

    tile(page, instance_id).locator(".tile-close").click()
    dialog.wait_for()
    assert "CartPole-v1" in dialog.inner_text() and instance_id[:8] in dialog.inner_text()
    save_screenshot(page, "monitor-close-dialog")
    dialog.get_by_role("button", name="Cancel").click()
    dialog.wait_for(state="hidden")
    assert instance_id in server_api.call("GET", "/v1/envs/")  # Cancel closes nothing

    tile(page, instance_id).locator(".tile-close").click()
    dialog.get_by_role("button", name="Close the instance").click()
    tile(page, instance_id).wait_for(state="detached")
    assert dialog.is_hidden()
    assert instance_id not in server_api.call("GET", "/v1/envs/")
    assert page.url.endswith("/monitor/")  # the button is not the tile's link
