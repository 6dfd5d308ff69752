"""Reconciliation listing: the client's sessions, newest first, cursor-paginated."""

import re
from datetime import datetime, time, timezone

from django.db.models import QuerySet, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils.dateparse import parse_date, parse_datetime
from rest_framework.pagination import CursorPagination

from truestack.errors import BadRequest

from .models import KycSession

_METADATA_KEY = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
LISTED_STATUSES = ("pending", "processing", "completed", "expired")


class SessionCursorPagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50
    max_page_size = 200
    page_size_query_param = "limit"

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except Exception:
            raise BadRequest("cursor is invalid or expired")
        # The position is compared with `created_at` in SQL: a crafted cursor must not
        # reach the database with a value that is not a date-time.
        if cursor is not None and cursor.position is not None:
            try:
                position = parse_datetime(cursor.position)
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


def _parse_instant(name: str, value: str):
    # Well-formed but impossible values (2026-02-30, +25:00, a year 0 in UTC) are 400 too.
    try:
        parsed = parse_datetime(value)
        if parsed is None:
            day = parse_date(value)
            if day is not None:
                parsed = datetime.combine(day, time.min, tzinfo=timezone.utc)
        if parsed is None:
            raise ValueError(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        # In UTC, so the database never sees an offset it cannot represent.
        return parsed.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise BadRequest(f"{name} must be an ISO 8601 date or date-time")


def sessions_for_listing(*, client, is_test: bool, params) -> QuerySet:
    """The client's sessions made in the calling key's environment (test or live)."""
    queryset = KycSession.objects.filter(client=client, is_test=is_test).exclude(status=KycSession.Status.FAILED)
    status = params.get("status")
    if status:
        if status not in LISTED_STATUSES:
            raise BadRequest(f"status must be one of {', '.join(LISTED_STATUSES)}")
        queryset = queryset.filter(status=status)
    result = params.get("result")
    if result:
        if result not in KycSession.Result.values:
            raise BadRequest("result must be one of approved, rejected")
        queryset = queryset.filter(result=result)
    if params.get("created_after"):
        queryset = queryset.filter(created_at__gte=_parse_instant("created_after", params["created_after"]))
    if params.get("created_before"):
        queryset = queryset.filter(created_at__lt=_parse_instant("created_before", params["created_before"]))
    key, value = params.get("metadata_key"), params.get("metadata_value")
    if key or value is not None:
        if not key or value is None or not _METADATA_KEY.match(key):
            raise BadRequest("metadata_key (letters, digits, _ . -) and metadata_value must be given together")
        if "\x00" in value:
            raise BadRequest("metadata_value must not contain NUL characters")
        queryset = queryset.annotate(
            _metadata_value=Cast(KeyTextTransform(key, "metadata"), output_field=TextField())
        ).filter(_metadata_value=value)
    return queryset.only(
        "id",
        "status",
        "result",
        "document_name",
        "document_number",
        "document_type",
        "metadata",
        "created_at",
        "updated_at",
        "expires_at",
    )
