"""Reads for outbound webhooks."""

from django.db.models import QuerySet

from .models import Delivery


def delivery_list(*, client_id=None, kind: str | None = None, state: str | None = None) -> QuerySet[Delivery]:
    qs = Delivery.objects.select_related("event", "event__client")
    if client_id is not None:
        qs = qs.filter(event__client_id=client_id)
    if kind:
        qs = qs.filter(event__kind=kind)
    if state:
        qs = qs.filter(state=state)
    return qs.order_by("-created_at")
