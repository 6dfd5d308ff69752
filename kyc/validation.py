"""Validation of the create-session body, with the contract's exact messages."""

import json
import math
import re

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from truestack import outbound
from truestack.errors import BadRequest
from truestack.formats import without_separators

from .models import KycSession

MAX_NAME_LENGTH = 100
MAX_DOCUMENT_NUMBER_LENGTH = 32
MAX_URL_LENGTH = 2000
MAX_METADATA_BYTES = 4096
MAX_NESTING_DEPTH = 32
_url_validator = URLValidator(schemes=["http", "https"])
_PASSPORT = re.compile(r"^[A-Za-z0-9]{5,20}$")


def _is_http_url(value) -> bool:
    if not isinstance(value, str) or not value or len(value) > MAX_URL_LENGTH:
        return False
    try:
        _url_validator(value)
    except ValidationError:
        return False
    return True


def _optional_url(data: dict, field: str) -> str:
    value = data.get(field)
    if value in (None, ""):
        return ""
    if not _is_http_url(value):
        raise BadRequest(f"{field} must be a valid HTTP/HTTPS URL")
    return value


def validate_test_url(data) -> str:
    """The body of POST /api/v1/events/test: `{"url": ...}`, the webhook_url rules."""
    if not isinstance(data, dict):
        raise BadRequest("Request body must be a JSON object")
    url = data.get("url")
    if url in (None, ""):
        raise BadRequest("url is required")
    if not _is_http_url(url):
        raise BadRequest("url must be a valid HTTP/HTTPS URL")
    return url


def provider_document_number(*, document_type: str, document_number: str) -> str:
    """What the provider receives: 12 digits for MyKad, the number as given otherwise."""
    if document_type == KycSession.DocumentType.MYKAD:
        return without_separators(document_number)
    return document_number.strip()


def _unstorable_reason(data) -> str | None:
    """Why the body cannot be stored as given (PostgreSQL text/jsonb refuse NUL, lone
    surrogates and non-finite numbers; deep nesting exhausts the JSON encoder's stack),
    or None. Iterative, so nesting cannot exhaust the stack here."""
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            if "\x00" in value or (not value.isascii() and not _is_utf8_encodable(value)):
                return "Request body must not contain NUL characters or invalid Unicode"
        elif isinstance(value, float):
            if not math.isfinite(value):
                return "Request body must not contain numbers too large to represent"
        elif isinstance(value, (dict, list)):
            if depth > MAX_NESTING_DEPTH:
                return f"Request body must not be nested more than {MAX_NESTING_DEPTH} levels deep"
            items = list(value.items()) if isinstance(value, dict) else [(None, item) for item in value]
            for key, item in items:
                if key is not None:
                    pending.append((key, depth))
                pending.append((item, depth + 1))
    return None


def _is_utf8_encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def validate_session_create(data) -> dict:
    """Return the cleaned fields or raise BadRequest with the first problem."""
    if not isinstance(data, dict):
        raise BadRequest("Request body must be a JSON object")
    reason = _unstorable_reason(data)
    if reason:
        raise BadRequest(reason)

    name, number = data.get("document_name"), data.get("document_number")
    if not isinstance(name, str) or not name.strip() or not isinstance(number, str) or not number.strip():
        raise BadRequest("document_name and document_number are required")
    webhook_url = data.get("webhook_url")
    if webhook_url in (None, ""):
        raise BadRequest("webhook_url is required")
    if not _is_http_url(webhook_url):
        raise BadRequest("webhook_url must be a valid HTTP/HTTPS URL")

    name = name.strip()
    if len(name) > MAX_NAME_LENGTH:
        raise BadRequest(f"document_name must be at most {MAX_NAME_LENGTH} characters")

    document_type = data.get("document_type", KycSession.DocumentType.MYKAD)
    if isinstance(document_type, int) and not isinstance(document_type, bool):
        document_type = str(document_type)
    if document_type not in KycSession.DocumentType.values:
        raise BadRequest('document_type must be "1" (MyKad) or "2" (Passport)')

    number = number.strip()
    if document_type == KycSession.DocumentType.MYKAD:
        if not re.fullmatch(r"\d{12}", without_separators(number)):
            raise BadRequest("document_number must be a 12-digit MyKad number (dashes and spaces are allowed)")
    elif not _PASSPORT.fullmatch(number):
        raise BadRequest("document_number must be a passport number of 5 to 20 letters and digits")

    platform = data.get("platform", KycSession.Platform.WEB)
    if platform not in KycSession.Platform.values:
        raise BadRequest('platform must be one of "Web", "iOS", "Android"')

    metadata = data.get("metadata")
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise BadRequest("metadata must be a JSON object")
    if len(json.dumps(metadata, separators=(",", ":"))) > MAX_METADATA_BYTES:
        raise BadRequest(f"metadata must be at most {MAX_METADATA_BYTES} bytes when serialized")

    # Last: the only check that may wait on DNS (cached). Refused now rather than at
    # delivery, when the session would already be billed with nobody to notify.
    refusal = outbound.target_refusal(webhook_url)
    if refusal:
        raise BadRequest(f"webhook_url is not allowed: {refusal}; webhooks are only sent to public internet addresses")

    return {
        "document_name": name,
        "document_number": number,
        "document_type": document_type,
        "platform": platform,
        "webhook_url": webhook_url,
        "redirect_url": _optional_url(data, "redirect_url"),
        "success_url": _optional_url(data, "success_url"),
        "fail_url": _optional_url(data, "fail_url"),
        "metadata": metadata,
    }
