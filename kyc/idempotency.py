"""Idempotency-Key for session creation (per client, kept 24 hours).

A key is claimed by inserting a row (unique per client), so two concurrent
requests with one key cannot both create. The first answer is stored when it is
final (201, or a 400 the same body would always get); transient refusals (402,
429, 502) release the key so a retry can succeed."""

import hashlib
import json
import time
from typing import cast

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from truestack.errors import ApplicationError, BadRequest, IdempotencyInProgress, IdempotencyKeyReused, error_body

from .models import IdempotencyRecord

MAX_KEY_LENGTH = 255
WAIT_FOR_FIRST_SECONDS = 20.0
STORED_STATUSES = {201, 400}


def request_fingerprint(data) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _claim(*, client, key: str, fingerprint: str) -> tuple[IdempotencyRecord, bool]:
    """Returns (record, claimed_by_us)."""
    cutoff = timezone.now() - settings.IDEMPOTENCY_KEY_TTL
    IdempotencyRecord.objects.filter(client=client, key=key, created_at__lt=cutoff).delete()
    try:
        with transaction.atomic():
            return IdempotencyRecord.objects.create(client=client, key=key, request_hash=fingerprint), True
    except IntegrityError:
        record = IdempotencyRecord.objects.filter(client=client, key=key).first()
        if record is None:  # released between our insert and read: try once more
            return _claim(client=client, key=key, fingerprint=fingerprint)
        return record, False


_GONE = object()


def _await_answer(record: IdempotencyRecord):
    """Wait for the first request's answer: the record, _GONE if the first request
    released the key, or None on timeout."""
    deadline = time.monotonic() + WAIT_FOR_FIRST_SECONDS
    while time.monotonic() < deadline:
        fresh = IdempotencyRecord.objects.filter(pk=record.pk).first()
        if fresh is None:
            return _GONE
        if fresh.response_status is not None:
            return fresh
        time.sleep(0.05)
    return None


def run_idempotent(*, client, key: str, data, handler) -> tuple[int, dict, bool]:
    """Run `handler()` -> (status, body) at most once per (client, key, body).
    Returns (status, body, replayed)."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise BadRequest(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters")
    fingerprint = request_fingerprint(data)
    for _ in range(3):
        record, claimed = _claim(client=client, key=key, fingerprint=fingerprint)
        if claimed:
            break
        if record.request_hash != fingerprint:
            raise IdempotencyKeyReused("Idempotency-Key was already used with a different request body")
        if record.response_status is None:
            outcome = _await_answer(record)
            if outcome is None:
                raise IdempotencyInProgress("A request with this Idempotency-Key is still being processed")
            if outcome is _GONE:
                continue
            record = outcome
        # An answered record carries both (see _await_answer).
        return cast(int, record.response_status), cast(dict, record.response_body), True
    else:
        raise IdempotencyInProgress("A request with this Idempotency-Key is still being processed")

    try:
        status, body = handler()
    except ApplicationError as exc:
        if exc.status_code in STORED_STATUSES:
            IdempotencyRecord.objects.filter(pk=record.pk).update(
                response_status=exc.status_code, response_body=error_body(exc.status_code, exc.message, exc.code)
            )
        else:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
        raise
    except Exception:
        IdempotencyRecord.objects.filter(pk=record.pk).delete()
        raise
    session_id = body.get("id") if status == 201 else None
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        response_status=status, response_body=body, session_id=session_id
    )
    return status, body, False


def idempotency_records_purge() -> int:
    cutoff = timezone.now() - settings.IDEMPOTENCY_KEY_TTL
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
