"""schemathesis against GET /openapi.json of a real server on loopback.

The schema is generated in-process, as the served /openapi.json is (the first
test checks they are the same document): schemathesis's pytest plugin builds
one test per operation at collection, before any server runs (its lazy mode,
which would load the schema from the server, does not run under pytest 9).

Every operation of the schema gets a bounded number of generated requests
(``SCHEMATHESIS_EXAMPLES`` per operation, schema-valid and schema-violating
ones), sent to the production server (gymapi/serve.py) over HTTP: none may be
a 5xx, and every answer must be documented (status, content type, headers,
body schema); a 405 must name the allowed methods. Operations on an instance
are sent to live instances as often as to generated ids, so their 200s are
checked too.

Not checked: that a schema-valid request is accepted (``positive_data_acceptance``).
The schema cannot say which strings are registered environment ids, nor which
JSON values are in an instance's action space; those are 400s, documented.
"""

import itertools
import json
import os

import msgpack
import pytest
import requests
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings

from gymapi.testing.server import ServerProcess

EXAMPLES = int(os.getenv("SCHEMATHESIS_EXAMPLES", "25"))


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    server = ServerProcess(tmp_path_factory.mktemp("schemathesis"), LOG_LEVEL="ERROR").start()
    yield server
    server.stop()


def openapi_document():
    return json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))


DOCUMENT = openapi_document()
schema = schemathesis.openapi.from_dict(DOCUMENT)


@schemathesis.serializer("application/msgpack")
def to_msgpack(ctx, value):
    """Bodies are documented in msgpack too: send them so (an integer beyond 64 bits as a float, which msgpack cannot carry)."""
    return msgpack.packb(value, default=float)


class LiveInstances:
    """Live instances for the generated requests: a CartPole, a Pendulum (a Box action) and a
    vector of CartPoles, made again when a generated DELETE closes one."""

    SINGLE = ({"env_id": "CartPole-v1", "render_mode": "rgb_array"}, {"env_id": "Pendulum-v1"})
    VECTOR = ({"env_id": "CartPole-v1", "num_envs": 2},)

    def __init__(self, url):
        self.url = url
        self.session = requests.Session()
        self.turn = itertools.count()
        self.ids = {}

    def pick(self, path):
        """An instance for ``path``'s kind; None (the generated id stays) one time in three."""
        turn = next(self.turn)
        if turn % 3 == 0:
            return None
        vector = path.startswith("/v1/vector_envs/")
        fields = (self.VECTOR if vector else self.SINGLE)[turn % (1 if vector else 2)]
        key = (vector, fields["env_id"])
        if key not in self.ids or not self.live(vector, self.ids[key]):
            self.ids[key] = self.create(vector, fields)
        return self.ids[key]

    def live(self, vector, instance_id):
        kind = "vector_envs" if vector else "envs"
        return self.session.get(f"{self.url}/v1/{kind}/{instance_id}/", timeout=30).status_code == 200

    def create(self, vector, fields):
        kind = "vector_envs" if vector else "envs"
        response = self.session.post(f"{self.url}/v1/{kind}/", json={**fields, "seed": 0}, timeout=30)
        assert response.status_code == 201, response.text
        instance_id = response.json()["instance_id"]
        assert self.session.post(f"{self.url}/v1/{kind}/{instance_id}/reset/", json={}, timeout=30).status_code == 200
        return instance_id


@pytest.fixture(scope="module")
def instances(served):
    return LiveInstances(served.url)


def test_it_tests_the_schema_the_server_serves(served):
    response = requests.get(f"{served.url}/openapi.json", timeout=30)
    assert response.status_code == 200
    assert response.json() == DOCUMENT


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_it_answers_every_generated_request_as_documented(case, served, instances):
    # (Not the MJPEG stream, which runs until its instance closes: only its errors are tested.)
    if "instance_id" in (case.path_parameters or {}) and not case.path.endswith("/monitor/stream/"):
        instance_id = instances.pick(case.path)
        if instance_id is not None:
            case.path_parameters["instance_id"] = instance_id
    case.call_and_validate(base_url=served.url, excluded_checks=[schemathesis.checks.positive_data_acceptance])
