"""The API's body parser: DRF's JSONParser, never a 500.

Python's json module raises ``RecursionError`` (not ``ValueError``, which DRF
turns into a parse error) on arrays or objects nested a few thousand deep.
"""

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
