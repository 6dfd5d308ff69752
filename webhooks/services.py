"""Outbound client webhooks: recording events, delivering them, resending.

Delivery is at-least-once and scheduled in the database, not in the broker:
a delivery is due when `next_attempt_at <= now`; a task claims it with one
conditional UPDATE that takes a lease (`locked_until`), sends, records the
attempt and sets the outcome. A worker that dies mid-attempt leaves the lease to
lapse and the beat sweep queues the delivery again. See docs/webhooks.md.
"""

from __future__ import annotations

import json
import logging
import random
import uuid
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from clients.services import api_key_plaintext, client_webhook_secret
from truestack import outbound

# tasks.py imports this module too; both only use each other's names at call time.
from . import signing, tasks
from .models import Attempt, Delivery, Event

logger = logging.getLogger(__name__)

OPEN_STATES = (Delivery.State.PENDING, Delivery.State.RETRYING)
# Extra lease time beyond the attempt's deadline (signing, recording the result),
# so a lease never lapses while its attempt is still running.
LEASE_MARGIN_SECONDS = 5.0
# Time for sending the body and reading the answer's excerpt, on top of the timeouts.
EXCHANGE_MARGIN_SECONDS = 2.0
# Retry delays grow 4x per failed attempt (30 s, 2 min, 8 min, 32 min, ~2 h, then
# the cap): with the default base/cap/attempts that is 10 attempts over ~27 h.
BACKOFF_FACTOR = 4
# Upward-only jitter, so the jittered schedule is never shorter than the nominal one.
BACKOFF_JITTER = 0.2
ERROR_MAX = 255


# --- payload ----------------------------------------------------------------------


def serialize_payload(payload: dict) -> bytes:
    # Serialized exactly once, when the event is recorded; these bytes are signed and sent.
    return json.dumps(payload, separators=(",", ":"), sort_keys=False, ensure_ascii=True).encode("ascii")


# --- scheduling ---------------------------------------------------------------------


def backoff_seconds(*, attempt: int, jitter: bool = True, rng: random.Random | None = None) -> float:
    """Wait after failed attempt number `attempt` (1-based) before the next one."""
    base = float(settings.WEBHOOK_BACKOFF_BASE_SECONDS)
    cap = float(settings.WEBHOOK_BACKOFF_MAX_SECONDS)
    nominal = min(cap, base * BACKOFF_FACTOR ** min(max(attempt, 1) - 1, 32))
    if not jitter:
        return nominal
    return nominal * (1 + (rng or random).uniform(0, BACKOFF_JITTER))


def retry_schedule() -> list[float]:
    """Nominal offsets (seconds after the first attempt) of every attempt, without jitter."""
    offsets = [0.0]
    for attempt in range(1, settings.WEBHOOK_MAX_ATTEMPTS):
        offsets.append(offsets[-1] + backoff_seconds(attempt=attempt, jitter=False))
    return offsets


def attempt_deadline() -> float:
    """Wall-clock bound on one attempt: WEBHOOK_ATTEMPT_DEADLINE_SECONDS, and never more
    than one well-behaved exchange takes under the timeouts (connect + read + 2 s)."""
    exchange = float(settings.WEBHOOK_CONNECT_TIMEOUT) + float(settings.WEBHOOK_READ_TIMEOUT) + EXCHANGE_MARGIN_SECONDS
    return min(float(settings.WEBHOOK_ATTEMPT_DEADLINE_SECONDS), exchange)


def lease_seconds() -> float:
    return attempt_deadline() + LEASE_MARGIN_SECONDS


def _enqueue(delivery_id) -> None:
    try:
        tasks.deliver.delay(str(delivery_id))
    except Exception:  # noqa: BLE001 - the broker may be down; the sweep queues it again later
        logger.warning("webhook delivery %s could not be queued; the sweep will retry", delivery_id, exc_info=True)


# --- writes ---------------------------------------------------------------------------


def event_record(
    *,
    event_id: uuid.UUID,
    client_id: uuid.UUID,
    session_id: uuid.UUID,
    kind: str,
    payload: dict,
    webhook_url: str,
    now: datetime,
) -> Event | None:
    """Store a ready payload as event `event_id` once and queue its delivery to
    `webhook_url` (if any) after commit. The payload is built by its owner (see
    kyc/presenters.py); this app only stores, signs and delivers it.

    Call inside the transaction that finalizes the session. A second call for the
    same session and kind returns None (the unique constraint decides)."""
    if kind not in Event.Kind.values:
        raise ValueError(f"unknown event kind {kind!r}")
    event = Event(id=event_id, client_id=client_id, session_id=session_id, kind=kind)
    event.body = serialize_payload(payload)
    try:
        with transaction.atomic():
            event.save(force_insert=True)
    except IntegrityError:
        return None
    if webhook_url:
        delivery = Delivery.objects.create(
            event=event, url=webhook_url, state=Delivery.State.PENDING, next_attempt_at=now, enqueued_at=now
        )
        transaction.on_commit(partial(_enqueue, delivery.pk))
    return event


def delivery_resend(*, delivery: Delivery) -> Delivery:
    """Operator "Resend now": due immediately whatever the state. The attempt count
    keeps growing; a resend past the attempt limit still gets one attempt."""
    now = timezone.now()
    Delivery.objects.filter(pk=delivery.pk).update(
        state=Delivery.State.PENDING, next_attempt_at=now, locked_until=None, enqueued_at=now, updated_at=now
    )
    transaction.on_commit(partial(_enqueue, delivery.pk))
    delivery.refresh_from_db()
    return delivery


def _lock_client_deliveries(client_id) -> None:
    """Serialize claims of one client's deliveries until the end of the transaction,
    so the in-flight count below is exact across workers. (SQLite: every write
    transaction is already serialized.)"""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [CLIENT_CLAIM_LOCK, str(client_id)])


# First key of the two-part advisory lock taken by _lock_client_deliveries.
CLIENT_CLAIM_LOCK = 7_411_001


def _claim(*, delivery_id) -> tuple[Delivery, Attempt, datetime] | str | None:
    """Take the lease with one conditional UPDATE; None when not ours to send,
    "deferred" when the client already has its cap of attempts in flight."""
    client_id = Event.objects.filter(deliveries__pk=delivery_id).values_list("client_id", flat=True).first()
    if client_id is None:
        return None
    now = timezone.now()
    lease_until = now + timedelta(seconds=lease_seconds())
    with transaction.atomic():
        claimable = Delivery.objects.filter(pk=delivery_id, state__in=OPEN_STATES, next_attempt_at__lte=now).filter(
            Q(locked_until__isnull=True) | Q(locked_until__lt=now)
        )
        _lock_client_deliveries(client_id)
        in_flight = Delivery.objects.filter(
            event__client_id=client_id, state__in=OPEN_STATES, locked_until__gte=now
        ).count()
        if in_flight >= settings.WEBHOOK_MAX_IN_FLIGHT_PER_CLIENT:
            # Put back, not failed and not counted: a slow receiver must not use up
            # another of the same client's deliveries' attempts either.
            later = now + timedelta(seconds=settings.WEBHOOK_CLIENT_BUSY_DELAY_SECONDS)
            deferred = claimable.update(next_attempt_at=later, enqueued_at=None, updated_at=now)
            return "deferred" if deferred else None
        claimed = claimable.update(
            locked_until=lease_until,
            enqueued_at=None,
            attempt_count=F("attempt_count") + 1,
            last_attempt_at=now,
            updated_at=now,
        )
        if not claimed:
            return None
        delivery = Delivery.objects.select_related("event__session__api_key", "event__client").get(pk=delivery_id)
        # An earlier attempt without a result belongs to a worker that died holding the lease.
        Attempt.objects.filter(delivery_id=delivery.pk, duration_ms__isnull=True, error="").update(
            error="interrupted: worker lost before recording a result"
        )
        attempt = Attempt.objects.create(delivery=delivery, number=delivery.attempt_count, started_at=now)
    return delivery, attempt, lease_until


def _send(*, delivery: Delivery) -> outbound.OutboundResult:
    event = delivery.event
    try:
        headers = signing.signed_headers(
            body=bytes(event.body),
            api_key=api_key_plaintext(api_key=event.session.api_key),
            secret=client_webhook_secret(client=event.client),
            event_id=str(event.id),
            event_kind=event.kind,
            delivery_id=str(delivery.id),
            timestamp=timezone.now(),
        )
    except Exception:  # noqa: BLE001 - e.g. an encryption key rotated away; retried like a network error
        logger.exception("webhook delivery %s: could not sign", delivery.pk)
        return outbound.OutboundResult(error="internal: could not sign the request")
    return outbound.post(delivery.url, body=bytes(event.body), headers=headers, deadline=attempt_deadline())


def _error_text(result: outbound.OutboundResult) -> str:
    if result.error:
        return result.error[:ERROR_MAX]
    if result.status_code is not None and 300 <= result.status_code < 400:
        return f"HTTP {result.status_code} (redirects are not followed)"
    if result.status_code == 410:
        return "HTTP 410 Gone: the receiver asked us to stop"
    return f"HTTP {result.status_code}"


def delivery_attempt(*, delivery_id) -> str:
    """One delivery attempt (the task body). Safe to run any number of times:
    only the holder of the lease sends. Returns the outcome."""
    claim = _claim(delivery_id=delivery_id)
    if claim is None:
        return "skipped"
    if isinstance(claim, str):
        return claim
    delivery, attempt, lease_until = claim

    try:
        result = _send(delivery=delivery)
    except Exception as exc:  # noqa: BLE001 - whatever happens, the attempt is recorded and retried
        logger.exception("webhook delivery %s: unexpected error while sending", delivery.pk)
        result = outbound.OutboundResult(error=f"internal error: {exc.__class__.__name__}")

    finished = timezone.now()
    error = "" if result.ok else _error_text(result)
    Attempt.objects.filter(pk=attempt.pk).update(
        duration_ms=result.duration_ms,
        status_code=result.status_code,
        error=error,
        response_excerpt=result.excerpt,
    )
    if result.ok:
        Delivery.objects.filter(pk=delivery.pk).update(
            state=Delivery.State.DELIVERED,
            delivered_at=finished,
            next_attempt_at=None,
            locked_until=None,
            last_error="",
            updated_at=finished,
        )
        logger.info("webhook delivery %s delivered (attempt %s)", delivery.pk, attempt.number)
        return Delivery.State.DELIVERED

    if result.status_code == 410 or result.refused_permanently:
        state, next_at = Delivery.State.FAILED, None
    elif delivery.attempt_count >= settings.WEBHOOK_MAX_ATTEMPTS:
        state, next_at = Delivery.State.FAILED, None
    else:
        state = Delivery.State.RETRYING
        next_at = finished + timedelta(seconds=backoff_seconds(attempt=delivery.attempt_count))
    # Only while we still hold our lease: if it lapsed and another attempt took
    # over, that attempt owns the outcome.
    updated = Delivery.objects.filter(pk=delivery.pk, locked_until=lease_until).update(
        state=state, next_attempt_at=next_at, locked_until=None, last_error=error, updated_at=finished
    )
    logger.info(
        "webhook delivery %s attempt %s failed (%s) -> %s",
        delivery.pk,
        attempt.number,
        error,
        state if updated else "superseded",
    )
    return state if updated else "superseded"


def deliveries_sweep(*, batch_size: int | None = None) -> list:
    """Queue deliveries that are due, not leased and not already waiting on the
    broker. Returns their ids (queued after commit)."""
    now = timezone.now()
    batch_size = batch_size or settings.WEBHOOK_SWEEP_BATCH_SIZE
    requeue_after = timedelta(seconds=settings.WEBHOOK_REQUEUE_AFTER_SECONDS)
    due = (
        Delivery.objects.filter(state__in=OPEN_STATES, next_attempt_at__lte=now)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=now - requeue_after))
        .order_by("next_attempt_at")
    )
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("pk", flat=True)[:batch_size])
        if ids:
            Delivery.objects.filter(pk__in=ids).update(enqueued_at=now)
            for delivery_id in ids:
                transaction.on_commit(partial(_enqueue, delivery_id))
    return ids
