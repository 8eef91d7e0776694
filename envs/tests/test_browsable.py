"""DRF's browsable API (what /v1 answers a browser): the site's header and links, instance lists
that link to their instances, example bodies in the forms, and the registry's filter form.
The JSON that clients get is unchanged."""

import json
import re

import pytest
from django.test import Client

from envs.browsable import EXAMPLES

pytestmark = pytest.mark.django_db

HTML = {"HTTP_ACCEPT": "text/html"}


def page(path):
    response = Client().get(path, **HTML)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    return response.content.decode()


def raw_form_content(html):
    """The text of the raw-data form's Content box (the body a POST would send)."""
    match = re.search(r'<textarea name="_content"[^>]*>(.*?)</textarea>', html, re.S)
    return match.group(1).replace("&quot;", '"') if match else None


def test_it_brands_the_page_and_links_the_site():
    html = page("/v1/")
    assert "<title>" in html and "gymapi API" in html
    assert '<a class="navbar-brand" href="/">gymapi</a>' in html
    for link in ('href="/monitor/"', 'href="/docs"', 'href="/admin/"', 'href="/favicon.ico"'):
        assert link in html
    assert "django-rest-framework.org" not in html


def test_the_instance_list_links_each_instance_and_keeps_its_json(api, make_instance):
    instance_id = make_instance("CartPole-v1")
    html = page("/v1/envs/")
    assert f'href="/v1/envs/{instance_id}/"' in html
    assert f'href="/monitor/{instance_id}/"' in html
    assert api.get("/v1/envs/").json() == {instance_id: "CartPole-v1"}  # what clients get


def test_the_vector_list_links_each_instance(api):
    created = api.post("/v1/vector_envs/", {"env_id": "CartPole-v1", "num_envs": 2}).json()["instance_id"]
    html = page("/v1/vector_envs/")
    assert f'href="/v1/vector_envs/{created}/"' in html and "CartPole-v1 × 2" in html


def test_the_create_form_holds_an_example_body():
    body = json.loads(raw_form_content(page("/v1/envs/")))
    assert body == {"env_id": "CartPole-v1", "render_mode": "rgb_array", "seed": 42}


def test_the_step_form_holds_an_example_action(make_instance):
    instance_id = make_instance("CartPole-v1", reset=True)
    response = Client().get(f"/v1/envs/{instance_id}/step/", **HTML)  # GET: 405, with the POST form
    assert json.loads(raw_form_content(response.content.decode())) == EXAMPLES[("env", "step")]


def test_every_example_is_a_body_the_api_takes(api, make_instance):
    instance_id = make_instance("CartPole-v1", reset=True)
    vector_id = api.post("/v1/vector_envs/", EXAMPLES[("vector_env", "create")]).json()["instance_id"]
    for (basename, action), body in EXAMPLES.items():
        if action == "create":
            response = api.post(f"/v1/{basename}s/", body)
        else:
            target = instance_id if basename == "env" else vector_id
            route = action.replace("_contains", "/contains")
            response = api.post(f"/v1/{basename}s/{target}/{route}/", body)
        assert response.status_code in (200, 201), (basename, action, response.content)


def test_the_registry_page_has_a_filter_form_that_filters():
    html = page("/v1/registry/")
    assert '<form id="registry-filter"' in html and 'name="q"' in html
    html = page("/v1/registry/?q=cartpole")
    assert 'value="cartpole"' in html and 'href="/v1/registry/">Show all' in html
    assert "CartPole-v1" in html and "Pendulum-v1" not in html


def test_the_registrys_json_is_unchanged(api):
    body = api.get("/v1/registry/", {"q": "cartpole"}).json()
    assert isinstance(body, list) and {spec["id"] for spec in body} >= {"CartPole-v1"}
    assert all("cartpole" in spec["id"].lower() for spec in body)
