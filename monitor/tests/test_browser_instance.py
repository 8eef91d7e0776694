"""/monitor/{id}/ in a real browser: a large live view and the chart of the
instance's recorded episodes, growing as episodes finish."""

import random

from .conftest import save_screenshot


def sloppy_balancer(rng, sloppiness):
    """Pushes toward the side the pole leans to, with some random pushes: episodes of varied length."""

    def policy(observation):
        if rng.random() < sloppiness:
            return rng.randrange(2)
        return int(observation[2] + 0.5 * observation[3] > 0)

    return policy


def chart_count(page):
    return page.locator("#chart").get_attribute("data-episodes")


def test_it_charts_the_recorded_episodes_and_adds_each_new_one_live(server, server_api, page):
    rng = random.Random(4)
    # Episodes of at most 100 steps keep the test quick.
    instance_id = server_api.create("CartPole-v1", render_mode="rgb_array", max_episode_steps=100)
    lengths = [server_api.run_episode(instance_id, sloppy_balancer(rng, 0.5 / n), seed=n) for n in range(1, 13)]
    page.goto(f"{server.url}/monitor/{instance_id}/")
    page.locator('#chart[data-episodes="12"]').wait_for()
    page.locator("#view img.frame").wait_for()
    caption = page.locator("#chart-caption").inner_text()
    assert caption.startswith("12 finished episodes")
    assert f"best {max(lengths)}" in caption

    # Ink on both panels' canvases (uPlot's): the chart was drawn, not just counted.
    inked = page.evaluate(
        """() => [...document.querySelectorAll("#chart canvas")].map((canvas) => {
            const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
            let inked = 0;
            for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) inked++;
            return inked;
        })"""
    )
    assert len(inked) == 2 and min(inked) > 2000

    # A click on the chart keeps the figures of the episode under the cursor.
    panel = page.locator("#chart .chart-return .u-over")
    box = panel.bounding_box()
    panel.click(position={"x": box["width"] - 2, "y": box["height"] / 2})
    assert page.locator("#chart-pick").inner_text().startswith(f"Episode 12: return {lengths[-1]} in {lengths[-1]} steps")

    server_api.run_episode(instance_id, sloppy_balancer(rng, 0.0), seed=13)
    page.locator('#chart[data-episodes="13"]').wait_for()
    page.locator("#stat-step", has_text="100").wait_for()
    page.wait_for_timeout(300)  # let the last frame decode before the picture is taken
    save_screenshot(page, "instance")


def test_it_charts_a_closed_instance_and_says_it_is_closed(server, server_api, page):
    instance_id = server_api.create("CartPole-v1", render_mode="rgb_array")
    for seed in range(3):
        server_api.run_episode(instance_id, lambda observation: 0, seed=seed)
    page.goto(f"{server.url}/monitor/{instance_id}/")
    page.locator('#chart[data-episodes="3"]').wait_for()
    server_api.close(instance_id)
    page.locator("#status", has_text="closed").wait_for()  # told live, over the WebSocket
    page.reload()
    page.locator('#chart[data-episodes="3"]').wait_for()
    assert page.locator("#status").inner_text() == "closed"
    assert "closed" in page.locator("#view").inner_text()
    save_screenshot(page, "instance-closed")


def test_it_says_closed_when_the_instance_closes_before_its_socket_joins(server, server_api, page):
    instance_id = server_api.create("CartPole-v1", render_mode="rgb_array")
    server_api.run_episode(instance_id, lambda observation: 0, seed=0)

    def close_then_connect(socket):
        # The page was served while the instance was active; it ends before the socket arrives.
        server_api.close(instance_id)
        socket.connect_to_server()

    page.route_web_socket(f"**/ws/envs/{instance_id}/", close_then_connect)
    page.goto(f"{server.url}/monitor/{instance_id}/")
    page.locator("#status", has_text="closed").wait_for()
    assert "was closed" in page.locator("#view").inner_text()
