import json
import re
from datetime import UTC, datetime

_SEPARATORS = re.compile(r"[\s-]")


def iso_utc(moment: datetime | None) -> str | None:
    """ISO 8601 UTC with milliseconds, as the client contract shows: 2026-01-28T10:00:00.000Z"""
    if moment is None:
        return None
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def without_separators(number: str) -> str:
    """An identity number with dashes and spaces removed: 901234-56-7890 -> 901234567890."""
    return _SEPARATORS.sub("", number)


# A JSON string (escapes included): what the nesting scan below skips over.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")


class JsonTooDeep(ValueError):
    """The document nests deeper than allowed (parsing it could exhaust the stack)."""


def json_nesting_depth(raw: bytes) -> int:
    """Deepest nesting of arrays/objects in `raw`, brackets inside strings ignored.
    Linear time and no recursion, whatever the input (it need not be valid JSON)."""
    brackets = _NOT_BRACKET.sub(b"", _JSON_STRING.sub(b"", raw))
    depth = deepest = 0
    for byte in brackets:
        if byte in b"[{":
            depth += 1
            if depth > deepest:
                deepest = depth
        else:
            depth -= 1
    return deepest


def json_loads_bounded(raw: bytes | str, *, max_depth: int = 32):
    """`json.loads` that refuses (JsonTooDeep, a ValueError) documents nested deeper
    than `max_depth` before parsing them, so hostile input can never raise
    RecursionError. Other bad input raises ValueError as json.loads does."""
    data = raw.encode("utf-8", errors="surrogatepass") if isinstance(raw, str) else raw
    # No more opening brackets than max_depth anywhere (strings included) cannot nest
    # deeper: counting is ~8x cheaper than the scan, and a provider callback (base64
    # images in a few small objects) always passes this way.
    if data.count(b"{") + data.count(b"[") > max_depth and json_nesting_depth(data) > max_depth:
        raise JsonTooDeep(f"JSON nested deeper than {max_depth}")
    return json.loads(data)
