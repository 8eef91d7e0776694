"""/monitor.html in a real browser: live tiles that follow the server without polling."""

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
