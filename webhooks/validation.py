"""Validation of the Events API request bodies (errors in the envelope)."""

from truestack.errors import BadRequest
from truestack.pagination import parse_instant

from .selectors import SUMMARY_STATUSES


def validate_bulk_redeliver(data) -> dict:
    if not isinstance(data, dict):
        raise BadRequest("Request body must be a JSON object")
    values = {}
    for name in ("created_after", "created_before"):
        value = data.get(name)
        if value in (None, ""):
            raise BadRequest(f"{name} is required")
        if not isinstance(value, str):
            raise BadRequest(f"{name} must be an ISO 8601 date or date-time")
        values[name] = parse_instant(name, value)
    if values["created_after"] >= values["created_before"]:
        raise BadRequest("created_after must be before created_before")
    status = data.get("status", "failed")
    if status not in SUMMARY_STATUSES:
        raise BadRequest(f"status must be one of {', '.join(SUMMARY_STATUSES)}")
    values["status"] = status
    return values
