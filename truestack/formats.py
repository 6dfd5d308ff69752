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
