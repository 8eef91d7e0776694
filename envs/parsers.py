"""The API's body parsers: JSON (DRF's, never a 500) and msgpack.

Python's json module raises ``RecursionError`` (not ``ValueError``, which DRF
turns into a parse error) on arrays or objects nested a few thousand deep.
"""

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from . import binary


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None


class MsgpackParser(parsers.BaseParser):
    """``Content-Type: application/msgpack`` bodies (``envs.binary``): arrays may come as raw bytes."""

    media_type = binary.CONTENT_TYPE

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        try:
            return binary.loads(raw)
        except binary.DecodeError as error:
            raise ParseError(f"msgpack parse error - {error}") from None
