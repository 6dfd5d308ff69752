"""What a client sees of its events (the Events API answers). The event's `data`
is the stored webhook body itself, parsed: exactly what was (or will be) sent."""

from __future__ import annotations

import json

from truestack.formats import iso_utc as iso
from truestack.outbound import OutboundResult

from .models import Delivery, Event
from .selectors import delivery_status

EXCERPT_CHARS = 200


def _latest_attempted(deliveries: list[Delivery]) -> Delivery | None:
    tried = [(delivery.last_attempt_at, delivery) for delivery in deliveries if delivery.last_attempt_at is not None]
    return max(tried, key=lambda pair: pair[0])[1] if tried else None


def delivery_summary(deliveries: list[Delivery]) -> dict | None:
    """The summary of an event's deliveries (newest first), led by the latest one."""
    if not deliveries:
        return None
    latest = deliveries[0]
    status = delivery_status(state=latest.state, attempt_count=latest.attempt_count)
    attempted = _latest_attempted(deliveries)
    return {
        "status": status,
        "attempts": sum(delivery.attempt_count for delivery in deliveries),
        "last_response_code": getattr(attempted, "last_status_code", None) if attempted else None,
        "last_attempt_at": iso(attempted.last_attempt_at) if attempted else None,
        "next_attempt_at": iso(latest.next_attempt_at) if status in ("pending", "failing") else None,
        "delivered_at": iso(latest.delivered_at) if status == "delivered" else None,
        "deliveries": len(deliveries),
    }


def event_summary(event: Event) -> dict:
    """The listing item (deliveries prefetched, newest first)."""
    return {
        "id": str(event.id),
        "type": event.kind,
        "created_at": iso(event.created_at),
        "session_id": str(event.session_id),
        "data": json.loads(bytes(event.body)),
        "delivery": delivery_summary(list(event.deliveries.all())),
    }


def event_detail(event: Event) -> dict:
    """One event with every attempt of every delivery, oldest first."""
    body = event_summary(event)
    attempts = []
    for delivery in event.deliveries.all():
        for attempt in delivery.attempts.all():
            attempts.append((attempt.started_at, attempt.number, delivery, attempt))
    attempts.sort(key=lambda item: (item[0], item[1]))
    body["attempts"] = [
        {
            "delivery_id": str(delivery.id),
            "number": attempt.number,
            "at": iso(attempt.started_at),
            "response_code": attempt.status_code,
            "duration_ms": attempt.duration_ms,
            "error": attempt.error or None,
            "response_excerpt": attempt.response_excerpt[:EXCERPT_CHARS],
        }
        for _, _, delivery, attempt in attempts
    ]
    return body


def redelivery_accepted(delivery: Delivery) -> dict:
    return {
        "event_id": str(delivery.event_id),
        "delivery_id": str(delivery.id),
        "url": delivery.url,
        "status": delivery_status(state=delivery.state, attempt_count=delivery.attempt_count),
        "next_attempt_at": iso(delivery.next_attempt_at),
    }


def bulk_redelivery_accepted(*, count: int, truncated: bool, job_id) -> dict:
    return {"count": count, "truncated": truncated, "id": str(job_id) if job_id else None}


def endpoint_test_result(*, event_id: str, url: str, result: OutboundResult) -> dict:
    return {
        "event_id": event_id,
        "url": url,
        "delivered": result.ok,
        "response_code": result.status_code,
        "duration_ms": result.duration_ms,
        "error": result.error or None,
        "response_excerpt": result.excerpt[:EXCERPT_CHARS],
    }
