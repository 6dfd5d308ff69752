import uuid
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeAlias, TypedDict

from django.conf import settings
from django.db.models import Count, Max, Q, QuerySet
from django.db.models.functions import Coalesce, TruncDate, TruncMonth
from django.utils import timezone

from truestack.errors import NotFound
from truestack.prepared import PreparedRead

from .models import KycSession, ProviderCallback, ProviderCheck, RetentionPolicy

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class _EndedAt(TypedDict):
    ended_at: datetime


# A final session annotated with when it ended (see `_ended`).
EndedSession: TypeAlias = "WithAnnotations[KycSession, _EndedAt]"

# A redaction still pending after this long (lost task) is finished by the retention job.
PENDING_RETRY_AFTER = timedelta(minutes=10)
_IMAGE_PRESENT = Q(front_document__gt="") | Q(back_document__gt="") | Q(face_image__gt="") | Q(best_frame__gt="")


def session_get_for_client(
    *, client, session_id: str, is_test: bool, fields: tuple[str, ...] | None = None
) -> KycSession:
    """The client's own session made in the same environment as the calling key
    (a test key sees test sessions only, a live key live ones); anything else,
    or a malformed id, is 404. `fields`: load only these columns (a read that
    presents a known shape)."""
    try:
        pk = uuid.UUID(str(session_id))
    except ValueError:
        raise NotFound("Session not found") from None
    session = _client_read(fields, is_test).get(pk=pk, client_id=client.pk)
    if session is None:
        raise NotFound("Session not found")
    return session


_client_reads: dict[tuple[tuple[str, ...] | None, bool], PreparedRead[KycSession]] = {}


def _client_read(fields: tuple[str, ...] | None, is_test: bool) -> PreparedRead[KycSession]:
    """The client API's read of one session, compiled once per process (see
    truestack/prepared.py): it runs on every GET and refresh."""
    read = _client_reads.get((fields, is_test))
    if read is None:

        def build(pk, client_id):
            sessions = KycSession.objects.exclude(status=KycSession.Status.FAILED)
            if fields is not None:
                sessions = sessions.only(*fields)
            else:
                sessions = sessions.defer("raw_result")  # provider debug data, never part of a client answer
            return sessions.filter(pk=pk, client_id=client_id, is_test=is_test)[:1]

        read = _client_reads[(fields, is_test)] = PreparedRead(build, "pk", "client_id")
    return read


# --- operator portal: aggregate reads (each one query, whatever the volume) -----------


def _created_counts(prefix: str, since) -> dict:
    in_range = Q(created_at__gte=since)
    return {
        f"{prefix}_created": Count("id", filter=in_range),
        f"{prefix}_completed": Count("id", filter=in_range & Q(status=KycSession.Status.COMPLETED)),
        f"{prefix}_approved": Count("id", filter=in_range & Q(result=KycSession.Result.APPROVED)),
        f"{prefix}_rejected": Count("id", filter=in_range & Q(result=KycSession.Result.REJECTED)),
        f"{prefix}_expired": Count("id", filter=in_range & Q(status=KycSession.Status.EXPIRED)),
        f"{prefix}_failed": Count("id", filter=in_range & Q(status=KycSession.Status.FAILED)),
        f"{prefix}_open": Count("id", filter=in_range & Q(status__in=KycSession.OPEN_STATUSES)),
    }


def stuck_filters(*, now: datetime) -> dict[str, Q]:
    """Sessions that need a look: open with no provider news past the poll
    threshold, open past their expiry, failed creates of the last day."""
    quiet_since = now - settings.KYC_POLL_AFTER
    open_ = Q(status__in=KycSession.OPEN_STATUSES)
    return {
        "quiet": open_
        & Q(created_at__lte=quiet_since)
        & (Q(last_callback_at__isnull=True) | Q(last_callback_at__lte=quiet_since))
        & (Q(last_provider_check_at__isnull=True) | Q(last_provider_check_at__lte=quiet_since)),
        "overdue": open_ & Q(expires_at__lte=now),
        "failed_create": Q(status=KycSession.Status.FAILED, created_at__gte=now - timedelta(days=1)),
    }


def sessions_dashboard_counts(*, today_start: datetime, month_start: datetime, now: datetime) -> dict[str, int]:
    """Created/completed/approved/rejected/expired for today and this month, and
    the stuck counts, in one aggregate query over this month's sessions and the
    open ones."""
    stuck = stuck_filters(now=now)
    return KycSession.objects.filter(
        Q(created_at__gte=min(month_start, now - timedelta(days=1))) | Q(status__in=KycSession.OPEN_STATUSES)
    ).aggregate(
        **_created_counts("today", today_start),
        **_created_counts("month", month_start),
        **{f"stuck_{name}": Count("id", filter=condition) for name, condition in stuck.items()},
    )


def sessions_per_day(*, since: datetime, tz, client_id=None) -> dict[date, dict[str, int]]:
    """{local day: {approved, rejected, expired, created}} from `since`, one GROUP BY."""
    sessions = KycSession.objects.filter(created_at__gte=since)
    if client_id is not None:
        sessions = sessions.filter(client_id=client_id)
    # Any rows: the stubs type them as TypedDicts, whose keys cannot be popped.
    rows: QuerySet[Any] = (
        sessions.annotate(day=TruncDate("created_at", tzinfo=tz))
        .values("day")
        .order_by("day")
        .annotate(
            created=Count("id"),
            approved=Count("id", filter=Q(result=KycSession.Result.APPROVED)),
            rejected=Count("id", filter=Q(result=KycSession.Result.REJECTED)),
            expired=Count("id", filter=Q(status=KycSession.Status.EXPIRED)),
        )
    )
    return {row.pop("day"): row for row in rows}


def sessions_per_month(*, since: datetime, tz, client_id) -> dict[date, dict[str, int]]:
    """{first day of the local month: {created, approved, rejected}} for a client."""
    rows: QuerySet[Any] = (
        KycSession.objects.filter(created_at__gte=since, client_id=client_id, is_test=False)
        .annotate(month=TruncMonth("created_at", tzinfo=tz))
        .values("month")
        .order_by("month")
        .annotate(
            created=Count("id"),
            approved=Count("id", filter=Q(result=KycSession.Result.APPROVED)),
            rejected=Count("id", filter=Q(result=KycSession.Result.REJECTED)),
        )
    )
    return {_as_date(row.pop("month")): row for row in rows}


def _as_date(value) -> date:
    return value.date() if isinstance(value, datetime) else value


def provider_health(*, now: datetime) -> dict:
    """Time of the last provider callback and the status calls of the last hour
    (total, failed): two small queries."""
    last_callback = ProviderCallback.objects.aggregate(last=Max("received_at"))["last"]
    checks = ProviderCheck.objects.filter(checked_at__gte=now - timedelta(hours=1)).aggregate(
        total=Count("id"), failed=Count("id", filter=Q(ok=False))
    )
    return {"last_callback_at": last_callback, **checks}


def sessions_recent_for_client(*, client_id, limit: int = 10) -> QuerySet[KycSession]:
    return (
        KycSession.objects.filter(client_id=client_id)
        .only("id", "ref_id", "document_name", "status", "result", "is_test", "created_at", "client_id")
        .order_by("-created_at")[:limit]
    )


def _due(*, now: datetime, days_field: str, default_days: int) -> Q:
    """Sessions that ended more than the client's (or the default) number of days ago."""
    overrides = dict(
        RetentionPolicy.objects.exclude(**{f"{days_field}__isnull": True}).values_list("client_id", days_field)
    )
    due = ~Q(client_id__in=list(overrides)) & Q(ended_at__lte=now - timedelta(days=default_days))
    for client_id, days in overrides.items():
        due |= Q(client_id=client_id, ended_at__lte=now - timedelta(days=days))
    return due


def _ended() -> "QuerySet[EndedSession]":
    return KycSession.objects.filter(status__in=KycSession.FINAL_STATUSES).annotate(
        ended_at=Coalesce("completed_at", "expires_at")
    )


def sessions_images_due(*, now: datetime | None = None) -> "QuerySet[EndedSession]":
    now = now or timezone.now()
    return (
        _ended()
        .filter(_IMAGE_PRESENT, redaction_state=KycSession.RedactionState.NONE, images_removed_at__isnull=True)
        .filter(_due(now=now, days_field="images_days", default_days=settings.RETENTION_IMAGES_DAYS))
        .order_by("ended_at")
    )


def sessions_personal_data_due(*, now: datetime | None = None) -> "QuerySet[EndedSession]":
    now = now or timezone.now()
    return (
        _ended()
        .filter(redaction_state=KycSession.RedactionState.NONE)
        .filter(_due(now=now, days_field="personal_data_days", default_days=settings.RETENTION_PERSONAL_DATA_DAYS))
        .order_by("ended_at")
    )


def sessions_redaction_stalled(*, now: datetime | None = None) -> QuerySet[KycSession]:
    now = now or timezone.now()
    return KycSession.objects.filter(
        redaction_state=KycSession.RedactionState.PENDING, redaction_requested_at__lte=now - PENDING_RETRY_AFTER
    ).order_by("redaction_requested_at")


def retention_summary(*, now: datetime | None = None) -> dict[str, int]:
    """Counts for the dashboard: sessions due for image removal and for redaction
    under the retention policies, redactions pending, sessions redacted, and
    sessions whose images were removed. Nothing personal."""
    redaction = KycSession.objects.values("redaction_state").order_by().annotate(n=Count("id"))
    states = {row["redaction_state"]: row["n"] for row in redaction}
    return {
        "images_due": sessions_images_due(now=now).count(),
        "personal_data_due": sessions_personal_data_due(now=now).count(),
        "redaction_pending": states.get(KycSession.RedactionState.PENDING, 0),
        "redacted": states.get(KycSession.RedactionState.REDACTED, 0),
        "images_removed": KycSession.objects.filter(images_removed_at__isnull=False).count(),
    }
