"""GET /openapi.json (OpenAPI 3, every /v1 route with its schemas, each component named once, the API key
declared only when the server requires keys) and GET /docs (Swagger UI, no internet needed, a way back to the site)."""

import re
import urllib.request

import pytest
from drf_spectacular.validation import validate_schema

# Every /v1 route the API serves: (method, path, request component or None, 200/201 response component or None).
ROUTES = [
    ("get", "/v1/envs/", None, None),
    ("post", "/v1/envs/", "CreateRequest", "CreateResponse"),
    ("get", "/v1/envs/{instance_id}/", None, "InstanceResponse"),
    ("delete", "/v1/envs/{instance_id}/", None, None),
    ("post", "/v1/envs/{instance_id}/reset/", "ResetRequest", "ResetResponse"),
    ("post", "/v1/envs/{instance_id}/step/", "StepRequest", "StepResponse"),
    ("get", "/v1/envs/{instance_id}/action_space/", None, "SpaceResponse"),
    ("get", "/v1/envs/{instance_id}/observation_space/", None, "SpaceResponse"),
    ("get", "/v1/envs/{instance_id}/action_space/sample/", None, "SampleResponse"),
    ("post", "/v1/envs/{instance_id}/action_space/contains/", "ContainsRequest", "ContainsResponse"),
    ("post", "/v1/envs/{instance_id}/observation_space/contains/", "ContainsRequest", "ContainsResponse"),
    ("get", "/v1/envs/{instance_id}/monitor/render/", None, "RenderResponse"),
    ("get", "/v1/envs/{instance_id}/monitor/stream/", None, None),
    ("get", "/v1/envs/{instance_id}/episodes/", None, "EpisodesResponse"),
    ("get", "/v1/registry/", None, None),
    ("get", "/v1/vector_envs/", None, None),
    ("post", "/v1/vector_envs/", "VectorCreateRequest", "VectorCreateResponse"),
    ("get", "/v1/vector_envs/{instance_id}/", None, "VectorInstanceResponse"),
    ("delete", "/v1/vector_envs/{instance_id}/", None, None),
    ("post", "/v1/vector_envs/{instance_id}/reset/", "ResetRequest", "ResetResponse"),
    ("post", "/v1/vector_envs/{instance_id}/step/", "VectorStepRequest", "VectorStepResponse"),
    ("get", "/v1/vector_envs/{instance_id}/action_space/", None, "VectorSpaceResponse"),
    ("get", "/v1/vector_envs/{instance_id}/observation_space/", None, "VectorSpaceResponse"),
    ("get", "/v1/vector_envs/{instance_id}/action_space/sample/", None, "VectorSampleResponse"),
    ("get", "/v1/vector_envs/{instance_id}/episodes/", None, "VectorEpisodesResponse"),
    ("get", "/v1/episodes/", None, "PaginatedEpisodeSummaryList"),
    ("get", "/v1/episodes/{episode_id}/", None, "EpisodeDetail"),
    ("get", "/v1/episodes/{episode_id}/replay/", None, "ReplayResponse"),
    ("get", "/v1/episodes/{episode_id}/video.{fmt}/", None, None),
]


@pytest.fixture(scope="module")
def schema():
    from rest_framework.test import APIClient

    response = APIClient().get("/openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi+json")
    return response.json()


def ref(content):
    return content["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]


def test_it_serves_a_valid_openapi_3_document(schema):
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "gymapi"
    validate_schema(schema)  # raises on any violation of the OpenAPI 3 schema


def test_it_documents_every_v1_route_and_nothing_else(schema):
    documented = {(method, path) for path, operations in schema["paths"].items() for method in operations}
    assert documented == {(method, path) for method, path, _, _ in ROUTES}


@pytest.mark.parametrize("method, path, request_schema, response_schema", ROUTES)
def test_it_documents_each_route_with_its_request_and_response(schema, method, path, request_schema, response_schema):
    operation = schema["paths"][path][method]
    assert operation["summary"]
    if request_schema is None:
        assert "requestBody" not in operation
    else:
        assert ref(operation["requestBody"]["content"]) == request_schema
        assert request_schema in schema["components"]["schemas"]
    success = [status for status in operation["responses"] if status.startswith("2")]
    assert len(success) == 1
    if response_schema is not None:
        assert ref(operation["responses"][success[0]]["content"]) == response_schema
    if "{instance_id}" in path:
        assert ref(operation["responses"]["404"]["content"]) == "ErrorResponse"


def test_it_documents_create_as_a_201_or_a_400(schema):
    # No instance is named yet, so no 404 or 410; a body too large (413) or of another media type (415),
    # the server or the key full (429), an environment that takes too long to build (504).
    assert set(schema["paths"]["/v1/envs/"]["post"]["responses"]) == {"201", "400", "413", "415", "429", "504"}


def test_it_documents_the_error_shape(schema):
    error = schema["components"]["schemas"]["ErrorResponse"]
    assert set(error["properties"]) == {"detail", "code", "fields"}
    assert set(error["required"]) == {"detail", "code"}


def test_it_names_each_component_once(schema):
    for name in schema["components"]["schemas"]:
        assert not re.search(r"(Request|Response)(Request|Response)$", name), name


def test_keys_off_it_declares_no_security(schema):
    # Swagger UI draws a padlock on every operation with a security requirement, and an Authorize button.
    assert "securitySchemes" not in schema["components"]
    assert all("security" not in operation for operations in schema["paths"].values() for operation in operations.values())


def test_keys_on_every_operation_takes_the_bearer_key(api, db, settings):
    settings.GYMAPI_REQUIRE_KEYS = True
    schema = api.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["apiKey"] | {"description": None} == {
        "type": "http",
        "scheme": "bearer",
        "description": None,
    }
    for operations in schema["paths"].values():
        for operation in operations.values():
            assert operation["security"] == [{"apiKey": []}]
    validate_schema(schema)


def test_it_documents_the_create_fields(schema):
    fields = schema["components"]["schemas"]["CreateRequest"]
    assert set(fields["properties"]) == {
        "env_id", "render_mode", "seed", "kwargs", "max_episode_steps", "record_actions", "num_cpus",
    }
    assert fields["required"] == ["env_id"]


@pytest.mark.parametrize("path", ["/docs", "/docs/"])
def test_it_serves_swagger_ui_from_this_server(api, db, path):
    response = api.get(path, HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    html = response.content.decode()
    assert "SwaggerUIBundle" in html or "swagger-ui" in html
    assert "/openapi.json" in html
    assert not re.search(r"https?://", html), "the page must need no internet"
    assets = re.findall(r'<(?:script|link)[^>]* (?:src|href)="([^"]+)"', html)
    assert any(asset.endswith("swagger-ui-bundle.js") for asset in assets)
    assert all(asset.startswith("/static/") or asset == "/favicon.ico" for asset in assets)
    # A way back to the site and its other pages.
    for link in ('href="/"', 'href="/monitor/"', 'href="/admin/"'):
        assert link in html


def test_it_serves_the_swagger_ui_assets_itself(server):
    with urllib.request.urlopen(f"{server.url}/docs", timeout=30) as response:
        html = response.read().decode()
    assets = re.findall(r'<(?:script|link)[^>]* (?:src|href)="([^"]+)"', html)
    assert assets
    for asset in assets:
        with urllib.request.urlopen(f"{server.url}{asset}", timeout=30) as response:
            assert response.status == 200, asset
            assert response.read(), asset
