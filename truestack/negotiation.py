"""The client API always answers JSON (or image bytes for documents), whatever
`Accept` says, and parses bodies as JSON only."""

from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import JSONParser


class IgnoreAcceptNegotiation(DefaultContentNegotiation):
    """An image fetcher's `Accept: image/jpeg` must not turn into 406."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class SafeJSONParser(JSONParser):
    """Absurdly nested JSON is a client error, not a crash."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON nested too deeply") from None
