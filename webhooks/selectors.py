"""Reads for outbound webhooks."""

from django.db.models import QuerySet

from .models import Attempt, Delivery, Event


def delivery_list(*, client_id=None, kind: str | None = None, state: str | None = None) -> QuerySet[Delivery]:
    qs = Delivery.objects.select_related("event", "event__client")
    if client_id is not None:
        qs = qs.filter(event__client_id=client_id)
    if kind:
        qs = qs.filter(event__kind=kind)
    if state:
        qs = qs.filter(state=state)
    return qs.order_by("-created_at")


def delivery_attempts(*, delivery: Delivery) -> QuerySet[Attempt]:
    return Attempt.objects.filter(delivery=delivery).order_by("number")


def session_events(*, session) -> QuerySet[Event]:
    """A session's events with their deliveries (two queries, whatever the count)."""
    return Event.objects.filter(session=session).prefetch_related("deliveries").order_by("created_at")
