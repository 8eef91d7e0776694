"""Every page in a real browser at a desktop's and a phone's width: it loads, its key
elements show, nothing overflows sideways, and a screenshot of each is saved under
test-artifacts/ (page-<name>-<width>.png). Then what the pages of other apps add:
the browsable API's links and filter, the admin's charts, Swagger UI without padlocks."""

import re
from types import SimpleNamespace

import pytest

from .conftest import Api, no_page_errors, save_screenshot

WIDTHS = {"desktop": {"width": 1400, "height": 900}, "phone": {"width": 390, "height": 844}}
STAFF = ("admin", "a-test-password-9")
CREATE_STAFF = (
    "from django.contrib.auth.models import User; "
    f"User.objects.filter(username='{STAFF[0]}').exists() or "
    f"User.objects.create_superuser('{STAFF[0]}', 'admin@example.org', '{STAFF[1]}')"
)

# name: (path, what must show); {id}: an instance with twelve finished episodes.
PAGES = {
    "home": ("/", ".cards"),
    "monitor": ("/monitor/", '.tile[data-instance-id="{id}"] img.frame'),
    "instance": ("/monitor/{id}/", '#chart[data-episodes="12"] canvas'),
    "agent": ("/agent/", "#agent-editor .CodeMirror-linenumber"),
    "docs": ("/docs", ".opblock-summary"),
    "api-root": ("/v1/", ".navbar-brand"),
    "api-envs": ("/v1/envs/", "#instance-links a.instance-api"),
    "api-registry": ("/v1/registry/?q=cartpole", "#registry-filter input[name=q]"),
    "admin-index": ("/admin/", "#site-name"),
    "admin-instances": ("/admin/envs/envinstance/", "#result_list"),
    "admin-instance": ("/admin/envs/envinstance/{id}/change/", "#episode-chart canvas"),
    "admin-episodes": ("/admin/envs/episode/?instance__id__exact={id}", "#result_list"),
    "admin-environment": ("/admin/envs/envinstance/environment/CartPole-v1/", "#episode-chart canvas"),
}


def balancer(observation):
    return int(observation[2] + 0.5 * observation[3] > 0)


def log_in(page, url):
    """Log in through the admin's form, as a person would."""
    page.goto(f"{url}/admin/login/")
    page.fill("#id_username", STAFF[0])
    page.fill("#id_password", STAFF[1])
    page.click("input[type=submit]")
    page.wait_for_url(f"{url}/admin/")


@pytest.fixture(scope="module")
def site(server):
    """The test server with a staff user and a CartPole instance that has played twelve episodes."""
    server.manage("shell", "-c", CREATE_STAFF)
    api = Api(server.url)
    instance_id = api.create("CartPole-v1", render_mode="rgb_array", max_episode_steps=60)
    for seed in range(1, 13):
        api.run_episode(instance_id, balancer if seed % 3 else (lambda observation: 0), seed=seed)
    yield SimpleNamespace(url=server.url, instance_id=instance_id, api=api)
    api.close(instance_id)


def staff_browser(browser, site, width):
    """A browser context at ``width`` (a key of WIDTHS), logged in as the staff user."""
    context = browser.new_context(viewport=WIDTHS[width])
    context.set_default_timeout(30_000)
    page = context.new_page()
    log_in(page, site.url)
    page.close()
    context.width_name = width
    return context


@pytest.fixture(scope="module", params=list(WIDTHS))
def staff_context(request, browser, site):
    """A logged-in staff user's browser at one width (the admin needs the login; the other pages take it too)."""
    context = staff_browser(browser, site, request.param)
    yield context
    context.close()


@pytest.fixture
def staff_page(staff_context):
    """A page of the staff browser; a JavaScript error on it fails the test."""
    page = staff_context.new_page()
    with no_page_errors(page):
        yield page
        page.close()


@pytest.fixture
def desktop_staff_page(browser, site):
    """A page of the staff browser at a desktop's width only, for what one width shows well enough;
    a JavaScript error on it fails the test."""
    context = staff_browser(browser, site, "desktop")
    page = context.new_page()
    with no_page_errors(page):
        yield page
        context.close()


def overflow(page):
    """How many pixels the page is wider than the window (0: nothing to scroll sideways)."""
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


@pytest.mark.parametrize("name", list(PAGES))
def test_each_page_shows_its_content_without_sideways_scrolling(site, staff_context, staff_page, name):
    path, selector = (text.format(id=site.instance_id) for text in PAGES[name])
    staff_page.goto(site.url + path)
    staff_page.locator(selector).first.wait_for()
    staff_page.wait_for_load_state("load")
    staff_page.wait_for_timeout(300)  # let frames and charts settle before the picture is taken
    save_screenshot(staff_page, f"page-{name}-{staff_context.width_name}")  # first: a failure below is easier to read with it
    assert staff_page.locator(selector).first.is_visible()
    assert overflow(staff_page) <= 0, f"{name} is wider than the {staff_context.width_name}'s window"


# --- what the pages of other apps add --------------------------------------------------------


def test_the_browsable_api_links_each_instance_to_its_pages(site, page):
    page.goto(f"{site.url}/v1/envs/")
    page.locator(f'#instance-links a.instance-api[href="/v1/envs/{site.instance_id}/"]').click()
    page.wait_for_url(f"**/v1/envs/{site.instance_id}/")
    assert '"env_id"' in page.locator(".response-info").inner_text()
    page.go_back()
    page.locator(f'#instance-links a.instance-watch[href="/monitor/{site.instance_id}/"]').click()
    page.wait_for_url(f"**/monitor/{site.instance_id}/")
    page.locator(".navbar-brand, .brand").first.click()
    page.wait_for_url(f"{site.url}/")


def test_the_browsable_apis_create_form_holds_an_example_that_creates(site, page):
    page.goto(f"{site.url}/v1/envs/")
    content = page.locator("#post-generic-content-form textarea[name=_content]")
    assert '"env_id": "CartPole-v1"' in content.input_value()
    page.locator("#post-generic-content-form button", has_text="POST").click()
    page.locator(".response-info", has_text="HTTP 201 Created").wait_for()
    instance_id = re.search(r'"instance_id": "([0-9a-f-]{36})"', page.locator(".response-info").inner_text()).group(1)
    assert site.api.call("GET", f"/v1/envs/{instance_id}/")["render_mode"] == "rgb_array"
    site.api.close(instance_id)


def test_the_registry_page_filters_from_its_form(site, page):
    page.goto(f"{site.url}/v1/registry/")
    page.fill("#registry-filter input[name=q]", "taxi")
    page.locator("#registry-filter button[type=submit]").click()
    page.wait_for_url("**/v1/registry/?q=taxi")
    body = page.locator(".response-info").inner_text()
    assert "Taxi-v" in body and "CartPole" not in body


def test_the_admin_chart_opens_the_episode_clicked(site, desktop_staff_page):
    desktop_staff_page.goto(f"{site.url}/admin/envs/envinstance/{site.instance_id}/change/")
    panel = desktop_staff_page.locator("#episode-chart .chart-return .u-over")
    panel.wait_for()
    assert desktop_staff_page.locator("#episode-chart").get_attribute("data-episodes") == "12"
    box = panel.bounding_box()
    panel.click(position={"x": box["width"] - 2, "y": box["height"] / 2})
    desktop_staff_page.wait_for_url(re.compile(r".*/admin/envs/episode/\d+/change/$"))
    assert "Episode 12" in desktop_staff_page.locator("#content").inner_text() or "episode 12" in desktop_staff_page.title()


def test_docs_show_no_padlock_while_keys_are_off(site, page):
    page.goto(f"{site.url}/docs")
    page.locator(".opblock-summary").first.wait_for()
    assert page.locator(".opblock").count() > 20
    assert page.locator(".authorization__btn").count() == 0  # the padlocks
    assert page.locator(".auth-wrapper .authorize").count() == 0
    page.locator(".site-bar .brand").click()
    page.wait_for_url(f"{site.url}/")
