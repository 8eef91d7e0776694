"""The API's renderers: JSON through orjson (the default), and msgpack.

orjson writes the same JSON as DRF's JSONRenderer (compact, UTF-8, strict: no
NaN) several times faster. Values orjson does not take natively go through
DRF's own encoder (``default``: dates, decimals, lazy strings...), and anything
it refuses (integers beyond 64 bits, non-string keys, an indent asked for in
``Accept``) is rendered by DRF's renderer itself. Floats are spelled in the
shortest form that reads back exactly (``1e-05`` may come out as ``1e-5``).
"""

import csv
import datetime
import io
import itertools

import numpy as np
import orjson
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

from . import binary

_ENCODER = JSONEncoder()
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME  # datetimes as DRF spells them ("...Z")
# DRF escapes these two so that a body is also a JavaScript literal; so do we.
_LINE_SEPARATORS = ((b"\xe2\x80\xa8", b"\\u2028"), (b"\xe2\x80\xa9", b"\\u2029"))


def render_json(data):
    """``data`` as DRF's JSONRenderer writes it, compact; None gives an empty body."""
    if data is None:
        return b""
    try:
        body = orjson.dumps(data, default=_ENCODER.default, option=_OPTIONS)
    except (TypeError, orjson.JSONEncodeError):
        return JSONRenderer().render(data)
    for raw, escaped in _LINE_SEPARATORS:
        if raw in body:
            body = body.replace(raw, escaped)
    return body


class ORJSONRenderer(JSONRenderer):
    """DRF's JSONRenderer, through orjson unless an indent was asked for."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if self.get_indent(accepted_media_type, renderer_context or {}) is not None:
            return super().render(data, accepted_media_type, renderer_context)
        return render_json(data)


def _msgpack_default(value):
    # Arrays a view left raw, then what DRF's JSON encoder knows (dates, UUIDs,
    # decimals, lazy strings), as the JSON body would spell them.
    if isinstance(value, (np.ndarray, np.generic)):
        return binary.encode_value(value)
    return _ENCODER.default(value)


def render_msgpack(data):
    """``data`` as a msgpack body; None gives an empty body."""
    if data is None:
        return b""
    return binary.dumps(data, default=_msgpack_default)


class MsgpackRenderer(BaseRenderer):
    """``Accept: application/msgpack``: the JSON body's twin, arrays as raw bytes (``envs.binary``).

    The views encode values for it with ``envs.binary.encode_value`` (see
    ``envs.views.value_encoder``); everything else is the same data as in JSON.
    """

    media_type = binary.CONTENT_TYPE
    format = "msgpack"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return render_msgpack(data)


class CSVRenderer(BaseRenderer):
    """``Accept: text/csv`` (or ``?format=csv``) on the episode list: its rows as CSV.

    The list streams its rows itself (``csv_chunks``, ``acsv_chunks``); this renderer only takes
    part in content negotiation, and what it is handed (an error) goes out as JSON.
    """

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return render_json(data)


def _cell(value):
    """A value as the JSON body spells it: ISO 8601 times, true and false; empty for null."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value


def csv_text(columns, rows):
    """``rows`` (dicts) as CSV text, each row's values under ``columns``; no header."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows([_cell(row[column]) for column in columns] for row in rows)
    return buffer.getvalue()


def csv_chunks(columns, rows, size):
    """``rows`` (dicts) as CSV text: a header of ``columns``, then ``size`` rows a chunk."""
    yield csv_text(columns, [dict(zip(columns, columns))])
    while batch := list(itertools.islice(rows, size)):
        yield csv_text(columns, batch)


async def acsv_chunks(columns, rows, size):
    """``csv_chunks`` of an asynchronous iterable of rows, for a response served over ASGI."""
    yield csv_text(columns, [dict(zip(columns, columns))])
    batch = []
    async for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield csv_text(columns, batch)
            batch = []
    if batch:
        yield csv_text(columns, batch)
