"""Cursor pagination and time filters shared by the client API's listings
(sessions, events): errors in the envelope, `limit` validated, ISO 8601 instants
parsed the same way everywhere."""

from datetime import UTC, datetime, time

from django.utils.dateparse import parse_date, parse_datetime
from rest_framework.pagination import CursorPagination

from .errors import BadRequest


class ClientCursorPagination(CursorPagination):
    """Newest first by (`created_at`, `id`); `limit` 1 to 200 (default 50)."""

    ordering: tuple[str, ...] = ("-created_at", "-id")
    page_size = 50
    max_page_size = 200
    page_size_query_param = "limit"

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except Exception:  # noqa: BLE001 - any undecodable cursor is the client's error
            raise BadRequest("cursor is invalid or expired") from None
        # The position is compared with the ordering field (a date-time, or a date) in SQL:
        # a crafted cursor must not reach the database with a value of another kind.
        if cursor is not None and cursor.position is not None:
            try:
                # The stubs type `position` as int; DRF decodes it from the query string, a str.
                position = parse_datetime(cursor.position) or parse_date(cursor.position)  # type: ignore[arg-type]
            except ValueError:
                position = None
            if position is None:
                raise BadRequest("cursor is invalid or expired")
        return cursor

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is not None and (not raw.isdigit() or int(raw) < 1):
            raise BadRequest(f"limit must be an integer from 1 to {self.max_page_size}")
        return super().get_page_size(request)


def parse_instant(name: str, value: str) -> datetime:
    """An ISO 8601 date or date-time (UTC when no offset), in UTC; BadRequest naming `name` otherwise."""
    # Well-formed but impossible values (2026-02-30, +25:00, a year 0 in UTC) are 400 too.
    try:
        parsed = parse_datetime(value)
        if parsed is None:
            day = parse_date(value)
            if day is not None:
                parsed = datetime.combine(day, time.min, tzinfo=UTC)
        if parsed is None:
            raise ValueError(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        # In UTC, so the database never sees an offset it cannot represent.
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise BadRequest(f"{name} must be an ISO 8601 date or date-time") from None
