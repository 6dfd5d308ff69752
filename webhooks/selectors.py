"""Reads of webhook events and deliveries (writes live in webhooks.services)."""

from datetime import datetime, timedelta

from django.db.models import Count, Max, Prefetch, Q

from .models import Attempt, Delivery, Event

FAILED_RECENTLY = timedelta(days=1)


def failing_filter(*, now: datetime) -> Q:
    """Deliveries retrying now, or given up within the last day."""
    return Q(state=Delivery.State.RETRYING) | Q(state=Delivery.State.FAILED, updated_at__gte=now - FAILED_RECENTLY)


def failing_endpoints(*, now: datetime, limit: int = 20) -> list[dict]:
    """Per client and receiver URL: deliveries retrying and failed recently, with
    the time of the last attempt: one GROUP BY query."""
    return list(
        Delivery.objects.filter(failing_filter(now=now))
        .values("event__client_id", "event__client__code", "url")
        .annotate(
            retrying=Count("id", filter=Q(state=Delivery.State.RETRYING)),
            failed=Count("id", filter=Q(state=Delivery.State.FAILED)),
            last_attempt_at=Max("last_attempt_at"),
        )
        .order_by("-retrying", "-failed", "event__client__code")[:limit]
    )


def events_for_session(*, session_id) -> list[Event]:
    """A session's events with their deliveries and attempts: three queries.
    The bodies are deferred (they can be large and the timeline needs no body)."""
    return list(
        Event.objects.filter(session_id=session_id)
        .defer("body")
        .order_by("created_at")
        .prefetch_related(
            Prefetch(
                "deliveries",
                queryset=Delivery.objects.order_by("created_at").prefetch_related(
                    Prefetch("attempts", queryset=Attempt.objects.order_by("number"))
                ),
            )
        )
    )


def delivery_latest_for_session(*, session_id) -> Delivery | None:
    return Delivery.objects.filter(event__session_id=session_id).order_by("-created_at").first()


def deliveries_for_export(*, queryset):
    """Rows for the deliveries CSV, streamed in chunks."""
    return queryset.select_related("event", "event__client").order_by("-created_at").iterator(chunk_size=2000)
