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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from clients.services import api_key_plaintext, client_webhook_secrets
from truestack import outbound
from truestack.db import functions as db_functions
from truestack.errors import BadRequest
from truestack.prepared import PreparedRead, row_insert
from truestack.ratelimit import rate_limit_enforce

# tasks.py imports this module too; both only use each other's names at call time.
from . import signing, tasks
from .models import Attempt, BulkRedelivery, Delivery, EndpointHealth, Event
from .selectors import events_for_client, events_with_status, hour_key, status_filter, window_hours

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
    except Exception:
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
    is_test: bool = False,
    first_of_kind: bool = False,
) -> Event | None:
    """Store a ready payload as event `event_id` once and queue its delivery to
    `webhook_url` (if any) after commit. The payload is built by its owner (see
    kyc/presenters.py); this app only stores, signs and delivers it.

    Call inside the transaction that finalizes the session. A second call for the
    same session and kind returns None (the unique constraint decides).
    `first_of_kind`: the caller knows it is the first (it holds the session's row
    lock and has just finalized it): no savepoint is spent, and a duplicate would
    roll the caller's transaction back instead."""
    if kind not in Event.Kind.values:
        raise ValueError(f"unknown event kind {kind!r}")
    event = Event(id=event_id, client_id=client_id, session_id=session_id, kind=kind, is_test=is_test)
    event.body = serialize_payload(payload)
    try:
        with transaction.atomic(savepoint=not first_of_kind):
            row_insert(event)
    except IntegrityError:
        if first_of_kind:
            raise
        return None
    if webhook_url:
        delivery = row_insert(
            Delivery(event=event, url=webhook_url, state=Delivery.State.PENDING, next_attempt_at=now, enqueued_at=now)
        )
        transaction.on_commit(partial(_enqueue, delivery.pk))
    return event


def event_body_replace(*, event_id: uuid.UUID, payload: dict) -> None:
    """Replace one event's stored body with a corrected one, inside the transaction
    that recorded it (before any delivery could send it)."""
    Event.objects.filter(pk=event_id).update(body=serialize_payload(payload))


def event_bodies_replace(*, session_id: uuid.UUID, payload_for: Callable[[Event, dict], dict]) -> int:
    """Replace the stored bodies of a session's events with the ones its owner
    builds again from the event and its current body (after redaction: without
    personal data). Deliveries still to be attempted send the new body."""
    replaced = 0
    for event in Event.objects.filter(session_id=session_id).only("id", "kind", "created_at", "session_id", "body"):
        current = json.loads(bytes(event.body))
        Event.objects.filter(pk=event.pk).update(body=serialize_payload(payload_for(event, current)))
        replaced += 1
    return replaced


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


# First key of the two-part advisory lock taken by _lock_client_deliveries (and, with
# the same second key, by truestack_delivery_claim).
CLIENT_CLAIM_LOCK = 7_411_001


_SEND_FIELDS = (
    "id",
    "url",
    "attempt_count",
    "event__id",
    "event__kind",
    "event__body",
    "event__client",
    "event__session__id",
    "event__session__api_key__id",
    "event__session__api_key__key_encrypted",
)


# Whose delivery it is (the client's cap is counted under its lock), compiled once per process.
_DELIVERY_EVENT = PreparedRead(lambda pk: Event.objects.filter(deliveries__pk=pk).only("id", "client_id")[:1], "pk")


def _claim(*, delivery_id) -> tuple[Delivery, Attempt, datetime] | str | None:
    """Take the lease with one conditional UPDATE; None when not ours to send,
    "deferred" when the client already has its cap of attempts in flight."""
    now = timezone.now()
    lease_until = now + timedelta(seconds=lease_seconds())
    claim = _claim_in_one_call if connection.vendor == "postgresql" else _claim_statement_by_statement
    outcome = claim(delivery_id=delivery_id, now=now, lease_until=lease_until)
    if outcome is None or isinstance(outcome, str):
        return outcome
    return (*outcome, lease_until)


# What sending reads: the event, its client, and only the key of its session.
_TO_SEND = PreparedRead(
    lambda pk: (
        Delivery.objects.select_related("event__session__api_key", "event__client")
        .only(*_SEND_FIELDS)
        .filter(pk=pk)[:1]
    ),
    "pk",
)


def _to_send(delivery_id) -> Delivery:
    delivery = _TO_SEND.get(pk=delivery_id)
    if delivery is None:
        raise Delivery.DoesNotExist(f"delivery {delivery_id} does not exist")
    return delivery


def _busy_until(now: datetime) -> datetime:
    return now + timedelta(seconds=settings.WEBHOOK_CLIENT_BUSY_DELAY_SECONDS)


INTERRUPTED = "interrupted: worker lost before recording a result"


def _claim_statement_by_statement(
    *, delivery_id, now: datetime, lease_until: datetime
) -> tuple[Delivery, Attempt] | str | None:
    """The claim as the ORM's statements, in one transaction under the client's claim
    lock: (the delivery to send, its new attempt), "deferred", or None."""
    event = _DELIVERY_EVENT.get(pk=delivery_id)
    if event is None:
        return None
    client_id = event.client_id
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
            deferred = claimable.update(next_attempt_at=_busy_until(now), enqueued_at=None, updated_at=now)
            if deferred:
                _waiting_for_slot_mark(client_id)
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
        delivery = _to_send(delivery_id)
        if delivery.attempt_count > 1:
            # An earlier attempt without a result belongs to a worker that died holding the lease.
            Attempt.objects.filter(delivery_id=delivery_id, duration_ms__isnull=True, error="").update(
                error=INTERRUPTED
            )
        return delivery, Attempt.objects.create(delivery=delivery, number=delivery.attempt_count, started_at=now)


def _claim_in_one_call(*, delivery_id, now: datetime, lease_until: datetime) -> tuple[Delivery, Attempt] | str | None:
    """PostgreSQL: _claim_statement_by_statement as one statement (webhooks/0006),
    so the client's claim lock is held only while the server runs it."""
    params = [
        delivery_id,
        now,
        lease_until,
        _busy_until(now),
        settings.WEBHOOK_MAX_IN_FLIGHT_PER_CLIENT,
        [state.value for state in OPEN_STATES],
        CLIENT_CLAIM_LOCK,
        INTERRUPTED,
    ]
    outcome, client_id, attempt_id, number = db_functions.call_row("truestack_delivery_claim", params)
    if outcome == "deferred":
        _waiting_for_slot_mark(client_id)
        return "deferred"
    if outcome != "claimed":
        return None
    try:
        delivery = _to_send(delivery_id)
    except Delivery.DoesNotExist:
        return None  # purged with its event since the claim committed: nothing to send
    return delivery, Attempt(id=attempt_id, delivery=delivery, number=number, started_at=now)


def _send(*, delivery: Delivery) -> outbound.OutboundResult:
    event = delivery.event
    try:
        current, *previous = client_webhook_secrets(client=event.client)
        headers = signing.signed_headers(
            body=bytes(event.body),
            api_key=api_key_plaintext(api_key=event.session.api_key),
            secret=current,
            previous_secrets=previous,
            event_id=str(event.id),
            event_kind=event.kind,
            delivery_id=str(delivery.id),
            timestamp=timezone.now(),
        )
    except Exception:
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
    except Exception as exc:
        logger.exception("webhook delivery %s: unexpected error while sending", delivery.pk)
        result = outbound.OutboundResult(error=f"internal error: {exc.__class__.__name__}")

    finished = timezone.now()
    error = "" if result.ok else _error_text(result)
    if result.ok:
        state, next_at = Delivery.State.DELIVERED, None
    elif result.status_code == 410 or result.refused_permanently:
        state, next_at = Delivery.State.FAILED, None
    elif delivery.attempt_count >= settings.WEBHOOK_MAX_ATTEMPTS:
        state, next_at = Delivery.State.FAILED, None
    else:
        state = Delivery.State.RETRYING
        next_at = finished + timedelta(seconds=backoff_seconds(attempt=delivery.attempt_count))
    finish = _finish_in_one_call if connection.vendor == "postgresql" else _finish_statement_by_statement
    updated = finish(
        outcome=_Outcome(
            delivery=delivery,
            attempt=attempt,
            result=result,
            error=error,
            state=state,
            next_at=next_at,
            lease_until=lease_until,
            finished=finished,
        )
    )
    if result.ok:
        logger.info("webhook delivery %s delivered (attempt %s)", delivery.pk, attempt.number)
    else:
        logger.info(
            "webhook delivery %s attempt %s failed (%s) -> %s",
            delivery.pk,
            attempt.number,
            error,
            state if updated else "superseded",
        )
    _slot_hand_off(client_id=delivery.event.client_id, now=finished)
    return state if updated else "superseded"


@dataclass(frozen=True)
class _Outcome:
    """What an attempt ends with: its result, and the delivery's next state."""

    delivery: Delivery
    attempt: Attempt
    result: outbound.OutboundResult
    error: str
    state: str
    next_at: datetime | None
    lease_until: datetime
    finished: datetime


def _finish_statement_by_statement(*, outcome: _Outcome) -> bool:
    """Record the attempt, the host's health and the delivery's new state; False when
    a failure was superseded (the lease lapsed and another attempt took over, which
    then owns the outcome). A success is recorded whatever happened to the lease."""
    delivery, result = outcome.delivery, outcome.result
    Attempt.objects.filter(pk=outcome.attempt.pk).update(
        duration_ms=result.duration_ms,
        status_code=result.status_code,
        error=outcome.error,
        response_excerpt=result.excerpt,
    )
    endpoint_health_record(
        client=delivery.event.client, url=delivery.url, ok=result.ok, error=outcome.error, at=outcome.finished
    )
    ours = Q(pk=delivery.pk) if result.ok else Q(pk=delivery.pk, locked_until=outcome.lease_until)
    delivered = {"delivered_at": outcome.finished} if result.ok else {}
    return bool(
        Delivery.objects.filter(ours).update(
            state=outcome.state,
            next_attempt_at=outcome.next_at,
            locked_until=None,
            last_error=outcome.error,
            updated_at=outcome.finished,
            **delivered,
        )
    )


def _finish_in_one_call(*, outcome: _Outcome) -> bool:
    """PostgreSQL: _finish_statement_by_statement as one statement (webhooks/0006),
    counting a success in the host's health row there when no alert is out; any other
    health record (a failure, a first attempt to the host, a recovery to tell the
    client about) is made the long way after it."""
    delivery, result = outcome.delivery, outcome.result
    params: list[Any] = [
        delivery.pk,
        outcome.attempt.pk,
        result.duration_ms,
        result.status_code,
        outcome.error,
        result.excerpt,
        outcome.state,
        result.ok,
        outcome.next_at,
        outcome.lease_until,
        outcome.finished,
        delivery.event.client_id,
        endpoint_host(delivery.url),
        hour_key(outcome.finished),
        sorted(window_hours(outcome.finished)),
    ]
    updated, health_recorded = db_functions.call_row("truestack_delivery_finish", params)
    if not health_recorded:
        endpoint_health_record(
            client=delivery.event.client, url=delivery.url, ok=result.ok, error=outcome.error, at=outcome.finished
        )
    return updated


def _waiting_marker(client_id) -> str:
    return f"webhooks:waiting-for-slot:{client_id}"


def _waiting_for_slot_mark(client_id) -> None:
    """Tell finishing attempts that a delivery of this client waits for a slot, until
    the sweep would have queued it anyway."""
    timeout = settings.WEBHOOK_CLIENT_BUSY_DELAY_SECONDS + settings.WEBHOOK_SWEEP_INTERVAL_SECONDS
    try:
        cache.set(_waiting_marker(client_id), True, timeout=timeout)
    except Exception:
        logger.warning("webhook slot mark for client %s failed", client_id, exc_info=True)


def _slot_hand_off(*, client_id, now: datetime) -> None:
    """An attempt of this client has just let go of its slot: queue now the delivery
    that has waited longest for one (put back by _claim for being over the client's
    cap), instead of at a sweep after WEBHOOK_CLIENT_BUSY_DELAY_SECONDS. A retry due
    within that delay may go that much early. Looks only while a delivery of the
    client was put back lately (a cache mark; without a cache it always looks);
    never raises (the sweep queues it anyway)."""
    try:
        if not cache.get(_waiting_marker(client_id)):
            return
    except Exception:  # noqa: BLE001, S110 - no cache: look in the database
        pass
    soon = now + timedelta(seconds=settings.WEBHOOK_CLIENT_BUSY_DELAY_SECONDS)
    # Open, not waiting on the broker, not leased.
    free = Q(state__in=OPEN_STATES, enqueued_at__isnull=True) & (Q(locked_until__isnull=True) | Q(locked_until__lt=now))
    try:
        waiting = list(
            Delivery.objects.filter(free, event__client_id=client_id, next_attempt_at__lte=soon)
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:2]
        )
        for delivery_id in waiting:
            # Taken by whoever sets enqueued_at first (another hand-off, the sweep).
            if Delivery.objects.filter(free, pk=delivery_id).update(
                next_attempt_at=now, enqueued_at=now, updated_at=now
            ):
                _enqueue(delivery_id)
                return
    except DatabaseError:
        logger.warning("webhook slot hand-off for client %s failed; the sweep will queue", client_id, exc_info=True)


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


# --- the Events API: redelivery, bulk replay, test sends, retention -------------------------


def _delivery_start(*, event_id, url: str, now: datetime) -> Delivery:
    delivery = Delivery.objects.create(
        event_id=event_id, url=url, state=Delivery.State.PENDING, next_attempt_at=now, enqueued_at=now
    )
    transaction.on_commit(partial(_enqueue, delivery.pk))
    return delivery


def redelivery_throttle(*, client) -> None:
    """Redeliveries, bulk replays and test sends: their own per-client limit per minute."""
    rate_limit_enforce(
        client_id=client.pk,
        scope="redeliver",
        limit=settings.EVENTS_REDELIVER_RATE_LIMIT_PER_MINUTE,
        what="redeliveries",
    )


def event_redeliver(*, event: Event) -> Delivery:
    """A new delivery of the event's stored body (same bytes, same `webhook-id`)
    to the URL its deliveries go to, due now. Earlier deliveries are left as they are."""
    latest = event.deliveries.order_by("-created_at", "-pk").first()
    if latest is None:
        raise BadRequest("This event has no webhook URL to deliver to")
    with transaction.atomic():
        return _delivery_start(event_id=event.pk, url=latest.url, now=timezone.now())


@dataclass(frozen=True)
class BulkRedeliveryAccepted:
    count: int
    truncated: bool
    job: BulkRedelivery | None


def _bulk_matching(*, client_id, is_test: bool, created_after: datetime, created_before: datetime, status: str):
    events = events_for_client(client_id=client_id, is_test=is_test).filter(
        created_at__gte=created_after, created_at__lt=created_before
    )
    return events_with_status(events).filter(status_filter(status))


def events_redeliver_bulk(
    *, client, is_test: bool, created_after: datetime, created_before: datetime, status: str
) -> BulkRedeliveryAccepted:
    """Accept a bulk replay: count what matches (at most EVENTS_BULK_REDELIVER_MAX,
    oldest first) and leave the deliveries to `redeliver_events` in batches."""
    limit = settings.EVENTS_BULK_REDELIVER_MAX
    matching = _bulk_matching(
        client_id=client.pk, is_test=is_test, created_after=created_after, created_before=created_before, status=status
    )
    found = matching.order_by().values("pk")[: limit + 1].count()
    count = min(found, limit)
    if not count:
        return BulkRedeliveryAccepted(count=0, truncated=False, job=None)
    with transaction.atomic():
        job = BulkRedelivery.objects.create(
            client=client,
            is_test=is_test,
            created_after=created_after,
            created_before=created_before,
            status=status,
            total=count,
        )
        transaction.on_commit(partial(_enqueue_bulk, job.pk))
    return BulkRedeliveryAccepted(count=count, truncated=found > limit, job=job)


def _enqueue_bulk(job_id) -> None:
    try:
        tasks.redeliver_events.delay(str(job_id))
    except Exception:
        logger.warning("bulk redelivery %s could not be queued; it will be resumed", job_id, exc_info=True)


def bulk_redelivery_run(*, job_id) -> int:
    """One batch of a bulk replay, oldest events first: new deliveries, then the
    cursor moves, in one transaction (a second run of the same task finds the
    cursor moved). Queues the next batch after commit. Returns the batch size."""
    now = timezone.now()
    with transaction.atomic():
        job = BulkRedelivery.objects.select_for_update().filter(pk=job_id, finished_at__isnull=True).first()
        if job is None:
            return 0
        size = min(settings.EVENTS_BULK_REDELIVER_BATCH_SIZE, job.total - job.processed)
        events = _bulk_matching(
            client_id=job.client_id,
            is_test=job.is_test,
            created_after=job.created_after,
            created_before=job.created_before,
            status=job.status,
        )
        if job.cursor_created_at is not None:
            events = events.filter(
                Q(created_at__gt=job.cursor_created_at)
                | Q(created_at=job.cursor_created_at, pk__gt=job.cursor_event_id)
            )
        batch = list(events.order_by("created_at", "pk").only("pk", "created_at")[: max(size, 0)])
        deliveries = Delivery.objects.bulk_create(
            [
                Delivery(
                    event_id=event.pk,
                    url=event.latest_url,
                    state=Delivery.State.PENDING,
                    next_attempt_at=now,
                    enqueued_at=now,
                )
                for event in batch
                if event.latest_url
            ]
        )
        for delivery in deliveries:
            transaction.on_commit(partial(_enqueue, delivery.pk))
        job.processed += len(batch)
        if batch:
            job.cursor_created_at, job.cursor_event_id = batch[-1].created_at, batch[-1].pk
        if len(batch) < size or job.processed >= job.total or not batch:
            job.finished_at = now
        else:
            transaction.on_commit(partial(_enqueue_bulk, job.pk))
        job.save()
    logger.info("bulk redelivery %s: %s events in this batch", job_id, len(batch))
    return len(batch)


def bulk_redeliveries_resume(*, stalled_after: timedelta = timedelta(minutes=1)) -> int:
    """Queue again unfinished bulk replays whose next batch was lost (broker down,
    worker killed between commit and queueing)."""
    stalled = BulkRedelivery.objects.filter(
        finished_at__isnull=True, updated_at__lt=timezone.now() - stalled_after
    ).values_list("pk", flat=True)[:100]
    ids = list(stalled)
    for job_id in ids:
        _enqueue_bulk(job_id)
    return len(ids)


def endpoint_test_send(*, client, api_key, url: str, payload: dict) -> outbound.OutboundResult:
    """Send a sample body (built by its owner, marked as a sample) to `url` now,
    signed exactly like a real delivery, through the same hardened client and
    timeouts. Nothing is stored and nothing is billed."""
    body = serialize_payload(payload)
    current, *previous = client_webhook_secrets(client=client)
    headers = signing.signed_headers(
        body=body,
        api_key=api_key_plaintext(api_key=api_key),
        secret=current,
        previous_secrets=previous,
        event_id=str(payload["id"]),
        event_kind=str(payload["event"]),
        delivery_id=str(uuid.uuid4()),
        timestamp=timezone.now(),
    )
    return outbound.post(url, body=body, headers=headers)


def events_purge_expired(*, batch_size: int | None = None, max_batches: int = 50) -> int:
    """Delete events older than EVENTS_RETENTION_DAYS with their deliveries and
    attempts, oldest first, in bounded batches. Returns how many events went."""
    batch_size = batch_size or settings.EVENTS_PURGE_BATCH_SIZE
    cutoff = timezone.now() - timedelta(days=settings.EVENTS_RETENTION_DAYS)
    purged = 0
    for _ in range(max_batches):
        ids = list(
            Event.objects.filter(created_at__lt=cutoff).order_by("created_at").values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            break
        with transaction.atomic():
            Attempt.objects.filter(delivery__event_id__in=ids).delete()
            Delivery.objects.filter(event_id__in=ids).delete()
            Event.objects.filter(pk__in=ids).delete()
        purged += len(ids)
    BulkRedelivery.objects.filter(finished_at__lt=cutoff).delete()
    if purged:
        logger.info("purged %s webhook events older than %s days", purged, settings.EVENTS_RETENTION_DAYS)
    return purged


# --- endpoint health --------------------------------------------------------------------------


def endpoint_host(url: str) -> str:
    """`host` or `host:port` (explicit port only) of a webhook URL, lowercased; never the userinfo."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return "(invalid URL)"
    return f"{host}:{port}" if port else host or "(no host)"


def _health_locked(*, client_id, host: str) -> EndpointHealth:
    health = EndpointHealth.objects.select_for_update().filter(client_id=client_id, host=host).first()
    if health is None:
        with transaction.atomic():  # savepoint: a concurrent first attempt may win the insert
            EndpointHealth.objects.bulk_create([EndpointHealth(client_id=client_id, host=host)], ignore_conflicts=True)
        health = EndpointHealth.objects.select_for_update().get(client_id=client_id, host=host)
    return health


def endpoint_health_record(*, client, url: str, ok: bool, error: str, at: datetime) -> None:
    """Count one delivery attempt to the URL's host and email the client's contact
    when the host has failed every attempt for WEBHOOK_HEALTH_ALERT_AFTER_SECONDS
    (once), and when it recovers. Never raises: health is a report, deliveries
    go on whatever happens here."""
    host = endpoint_host(url)
    notify = None
    try:
        with transaction.atomic():
            health = _health_locked(client_id=client.pk, host=host)
            hours = window_hours(at)
            hourly = {key: value for key, value in (health.hourly or {}).items() if key in hours}
            tried, succeeded = hourly.get(hour_key(at), [0, 0])
            hourly[hour_key(at)] = [tried + 1, succeeded + int(ok)]
            health.hourly = hourly
            health.last_attempt_at = at
            if ok:
                if health.alerted_at is not None:
                    notify = ("recovered", health.first_failure_at)
                health.consecutive_failures = 0
                health.first_failure_at = None
                health.alerted_at = None
                health.last_success_at = at
                health.last_error = ""
            else:
                health.consecutive_failures += 1
                health.first_failure_at = health.first_failure_at or at
                health.last_error = error[:ERROR_MAX]
                failing_for = at - health.first_failure_at
                if health.alerted_at is None and failing_for >= timedelta(
                    seconds=settings.WEBHOOK_HEALTH_ALERT_AFTER_SECONDS
                ):
                    health.alerted_at = at
                    notify = ("failing", health.first_failure_at)
            health.save()
    except Exception:
        logger.exception("endpoint health for %s could not be recorded", host)
        return
    if notify:
        _health_email(client=client, host=host, what=notify[0], since=notify[1], health=health)


def _health_email(*, client, host: str, what: str, since: datetime | None, health: EndpointHealth) -> None:
    if not client.contact_email:
        logger.warning("webhook host %s of client %s is %s; the client has no contact email", host, client.code, what)
        return
    since_text = since.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if since else "unknown"
    if what == "failing":
        subject = f"TrueStack: webhooks to {host} are failing"
        text = (
            f"Every webhook delivery to {host} has failed since {since_text} "
            f"({health.consecutive_failures} failed attempt{'' if health.consecutive_failures == 1 else 's'} in a row; "
            f"last error: {health.last_error or 'unknown'}).\n\n"
            "TrueStack keeps retrying each event for about 27 hours and never drops one. After that, the events "
            "API lets you see every event and replay a time range: GET /api/v1/events and "
            "POST /api/v1/events/redeliver (see the webhooks guide, 'Catching up after an outage').\n\n"
            "We will write once more when deliveries to this host succeed again."
        )
    else:
        subject = f"TrueStack: webhooks to {host} are delivered again"
        text = (
            f"Webhook deliveries to {host} succeed again (failing since {since_text}).\n\n"
            "Events whose deliveries gave up while the host was down are not resent automatically: list them with "
            "GET /api/v1/events?status=failed and replay them with POST /api/v1/events/redeliver."
        )
    try:
        send_mail(subject, text, settings.DEFAULT_FROM_EMAIL, [client.contact_email])
    except Exception:
        logger.exception("endpoint health email for host %s could not be sent", host)
