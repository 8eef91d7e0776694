"""envs.renderers: orjson bodies read back exactly as DRF's JSONRenderer's."""

import datetime
import decimal
import json
import uuid

from django.utils.translation import gettext_lazy
from rest_framework.renderers import JSONRenderer

from envs.renderers import ORJSONRenderer, render_json

VALUES = [
    {"observation": [-0.0074, 1e-05, 3.0, 1e16], "reward": 1.0, "terminated": False, "info": {}},
    {"when": datetime.datetime(2026, 11, 24, 12, 0, 0, 123456, tzinfo=datetime.timezone.utc)},
    {"date": datetime.date(2026, 11, 24), "id": uuid.UUID(int=7), "amount": decimal.Decimal("1.50")},
    {"text": "naïve \u2028 \u2029 ☃", "lazy": gettext_lazy("Not found.")},
    {"big": 2**70, "negative": -(2**64)},
    {1: "a non-string key"},
    [1, [2, [3, None]]],
]


def test_it_writes_what_drf_writes():
    for value in VALUES:
        ours, drf = render_json(value), JSONRenderer().render(value)
        assert json.loads(ours) == json.loads(drf)
        assert b"\xe2\x80\xa8" not in ours and b"\xe2\x80\xa9" not in ours  # escaped, as DRF does


def test_it_is_compact():
    assert render_json({"a": [1, 2], "b": {"c": None}}) == b'{"a":[1,2],"b":{"c":null}}'


def test_it_spells_datetimes_as_drf_does():
    value = VALUES[1]
    assert render_json(value) == JSONRenderer().render(value)


def test_it_renders_nothing_for_none_and_indents_when_asked():
    assert render_json(None) == b""
    indented = ORJSONRenderer().render({"a": 1}, "application/json; indent=2")
    assert indented == JSONRenderer().render({"a": 1}, "application/json; indent=2")
