"""Reads of events, deliveries and endpoint health: the client's Events API and
the portal's health panels."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Count, Max, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from truestack.errors import BadRequest, NotFound
from truestack.pagination import parse_instant

from .models import Attempt, Delivery, EndpointHealth, Event

# The delivery summary of an event is that of its latest delivery (a redelivery
# replaces the original in the summary): pending = not tried yet, failing = tried,
# failed and retrying, failed = given up, delivered = a 2xx answer.
SUMMARY_STATUSES = ("pending", "delivered", "failing", "failed")
_OPEN_STATES = (Delivery.State.PENDING, Delivery.State.RETRYING)
HEALTH_WINDOW_HOURS = 24


def delivery_status(*, state: str, attempt_count: int) -> str:
    if state == Delivery.State.DELIVERED:
        return "delivered"
    if state == Delivery.State.FAILED:
        return "failed"
    return "failing" if attempt_count else "pending"


def _latest_delivery(field: str) -> Subquery:
    return Subquery(Delivery.objects.filter(event=OuterRef("pk")).order_by("-created_at", "-pk").values(field)[:1])


def events_with_status(queryset: QuerySet) -> QuerySet:
    """Annotate each event with its latest delivery's state, attempt count and URL."""
    return queryset.annotate(
        latest_state=_latest_delivery("state"),
        latest_attempts=_latest_delivery("attempt_count"),
        latest_url=_latest_delivery("url"),
    )


def status_filter(status: str) -> Q:
    """Events (annotated by `events_with_status`) whose summary status is `status`."""
    return {
        "delivered": Q(latest_state=Delivery.State.DELIVERED),
        "failed": Q(latest_state=Delivery.State.FAILED),
        "pending": Q(latest_state__in=_OPEN_STATES, latest_attempts=0),
        "failing": Q(latest_state__in=_OPEN_STATES, latest_attempts__gt=0),
    }[status]


def events_for_client(*, client_id, is_test: bool) -> QuerySet:
    return Event.objects.filter(client_id=client_id, is_test=is_test)


def _deliveries_prefetch() -> Prefetch:
    last_code = Subquery(
        Attempt.objects.filter(delivery=OuterRef("pk"), started_at__isnull=False)
        .order_by("-number")
        .values("status_code")[:1]
    )
    return Prefetch(
        "deliveries",
        queryset=Delivery.objects.annotate(last_status_code=last_code).order_by("-created_at", "-pk"),
    )


def events_for_listing(*, client_id, is_test: bool, params) -> QuerySet:
    """The client's events in one mode with the API's filters; two queries per
    page (events, then their deliveries) whatever the page size."""
    queryset = events_for_client(client_id=client_id, is_test=is_test)
    kind = params.get("type")
    if kind:
        if kind not in Event.Kind.values:
            raise BadRequest(f"type must be one of {', '.join(Event.Kind.values)}")
        queryset = queryset.filter(kind=kind)
    session_id = params.get("session_id")
    if session_id:
        try:
            queryset = queryset.filter(session_id=uuid.UUID(session_id))
        except ValueError:
            raise BadRequest("session_id must be a session id (UUID)") from None
    if params.get("created_after"):
        queryset = queryset.filter(created_at__gte=parse_instant("created_after", params["created_after"]))
    if params.get("created_before"):
        queryset = queryset.filter(created_at__lt=parse_instant("created_before", params["created_before"]))
    status = params.get("status")
    if status:
        if status not in SUMMARY_STATUSES:
            raise BadRequest(f"status must be one of {', '.join(SUMMARY_STATUSES)}")
        queryset = events_with_status(queryset).filter(status_filter(status))
    return queryset.prefetch_related(_deliveries_prefetch())


def event_get_for_client(*, client_id, is_test: bool, event_id: str) -> Event:
    """The client's own event in the key's mode, with deliveries and attempts;
    another client's, the other mode's, a purged or a malformed id is 404."""
    try:
        pk = uuid.UUID(str(event_id))
    except ValueError:
        raise NotFound("Event not found") from None
    event = (
        events_for_client(client_id=client_id, is_test=is_test)
        .prefetch_related(_deliveries_prefetch(), "deliveries__attempts")
        .filter(pk=pk)
        .first()
    )
    if event is None:
        raise NotFound("Event not found") from None
    return event


# --- endpoint health ---------------------------------------------------------------------


@dataclass(frozen=True)
class EndpointHealthView:
    client_id: uuid.UUID
    client_code: str
    host: str
    attempts_24h: int
    successes_24h: int
    consecutive_failures: int
    first_failure_at: datetime | None
    last_success_at: datetime | None
    last_attempt_at: datetime | None
    last_error: str
    alerted_at: datetime | None

    @property
    def success_rate(self) -> float | None:
        """Successes / attempts over the last 24 h (0 to 1); None without attempts."""
        return round(self.successes_24h / self.attempts_24h, 4) if self.attempts_24h else None

    @property
    def success_percent(self) -> str:
        rate = self.success_rate
        return "—" if rate is None else f"{rate * 100:.1f}%"

    @property
    def failing(self) -> bool:
        return self.consecutive_failures > 0


def hour_key(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H")


def window_hours(now: datetime) -> frozenset[str]:
    """The hour keys of the health window that ends in `now`'s hour. Every attempt
    records one, so they are built once per hour."""
    return _window_hours(now.astimezone(UTC).replace(minute=0, second=0, microsecond=0))


@functools.lru_cache(maxsize=4)
def _window_hours(hour: datetime) -> frozenset[str]:
    return frozenset(hour_key(hour - timedelta(hours=n)) for n in range(HEALTH_WINDOW_HOURS))


def _view(record: EndpointHealth, hours: frozenset[str]) -> EndpointHealthView:
    attempts = successes = 0
    for key, (tried, succeeded) in (record.hourly or {}).items():
        if key in hours:
            attempts += tried
            successes += succeeded
    return EndpointHealthView(
        client_id=record.client_id,
        client_code=record.client.code,
        host=record.host,
        attempts_24h=attempts,
        successes_24h=successes,
        consecutive_failures=record.consecutive_failures,
        first_failure_at=record.first_failure_at,
        last_success_at=record.last_success_at,
        last_attempt_at=record.last_attempt_at,
        last_error=record.last_error,
        alerted_at=record.alerted_at,
    )


def endpoint_health_for_client(*, client_id, now: datetime | None = None) -> list[EndpointHealthView]:
    """A client's webhook hosts tried in the last 24 hours, failing ones first."""
    now = now or timezone.now()
    records = EndpointHealth.objects.select_related("client").filter(
        client_id=client_id, last_attempt_at__gte=now - timedelta(hours=HEALTH_WINDOW_HOURS)
    )
    hours = window_hours(now)
    views = [_view(record, hours) for record in records]
    return sorted(views, key=lambda view: (not view.failing, view.host))


def endpoint_health_failing(*, now: datetime | None = None, limit: int = 50) -> list[EndpointHealthView]:
    """Hosts (all clients) whose latest attempts failed, tried in the last 24 hours,
    longest-failing first (the dashboard)."""
    now = now or timezone.now()
    records = (
        EndpointHealth.objects.select_related("client")
        .filter(consecutive_failures__gt=0, last_attempt_at__gte=now - timedelta(hours=HEALTH_WINDOW_HOURS))
        .order_by("first_failure_at")[:limit]
    )
    hours = window_hours(now)
    return [_view(record, hours) for record in records]


# --- operator portal: aggregate reads ---------------------------------------------------

FAILED_RECENTLY = timedelta(days=1)


def failing_filter(*, now: datetime) -> Q:
    """Deliveries retrying now, or given up within the last day."""
    return Q(state=Delivery.State.RETRYING) | Q(state=Delivery.State.FAILED, updated_at__gte=now - FAILED_RECENTLY)


def failing_endpoints(*, now: datetime, limit: int = 20) -> list[dict]:
    """Per client and receiver URL: deliveries retrying and failed recently, with
    the time of the last attempt: one GROUP BY query."""
    # Any rows: the stubs type them as TypedDicts, which are not dicts to mypy.
    rows: QuerySet[Any] = (
        Delivery.objects.filter(failing_filter(now=now))
        .values("event__client_id", "event__client__code", "url")
        .annotate(
            retrying=Count("id", filter=Q(state=Delivery.State.RETRYING)),
            failed=Count("id", filter=Q(state=Delivery.State.FAILED)),
            last_attempt_at=Max("last_attempt_at"),
        )
        .order_by("-retrying", "-failed", "event__client__code")[:limit]
    )
    return list(rows)


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
