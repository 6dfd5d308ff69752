"""Reconciliation listing: the client's sessions, newest first, cursor-paginated."""

import re

from django.db.models import QuerySet, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from truestack.errors import BadRequest
from truestack.pagination import ClientCursorPagination
from truestack.pagination import parse_instant as _parse_instant

from .models import KycSession

_METADATA_KEY = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
LISTED_STATUSES = ("pending", "processing", "completed", "expired")


class SessionCursorPagination(ClientCursorPagination):
    """Sessions, newest first."""


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
        "redaction_state",
    )
