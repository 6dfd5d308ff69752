import uuid
from datetime import datetime, timedelta

from truestack.errors import NotFound

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from .models import KycSession, RetentionPolicy

# A redaction still pending after this long (lost task) is finished by the retention job.
PENDING_RETRY_AFTER = timedelta(minutes=10)
_IMAGE_PRESENT = Q(front_document__gt="") | Q(back_document__gt="") | Q(face_image__gt="") | Q(best_frame__gt="")


def session_get_for_client(*, client, session_id: str) -> KycSession:
    """The client's own session; another client's or a malformed id is 404."""
    try:
        pk = uuid.UUID(str(session_id))
    except ValueError:
        raise NotFound("Session not found")
    try:
        return (
            KycSession.objects.exclude(status=KycSession.Status.FAILED)
            .defer("raw_result")  # provider debug data, never part of a client answer
            .get(pk=pk, client=client)
        )
    except KycSession.DoesNotExist:
        raise NotFound("Session not found")


def _due(*, now: datetime, days_field: str, default_days: int) -> Q:
    """Sessions that ended more than the client's (or the default) number of days ago."""
    overrides = dict(
        RetentionPolicy.objects.exclude(**{f"{days_field}__isnull": True}).values_list("client_id", days_field)
    )
    due = ~Q(client_id__in=list(overrides)) & Q(ended_at__lte=now - timedelta(days=default_days))
    for client_id, days in overrides.items():
        due |= Q(client_id=client_id, ended_at__lte=now - timedelta(days=days))
    return due


def _ended() -> QuerySet[KycSession]:
    return KycSession.objects.filter(status__in=KycSession.FINAL_STATUSES).annotate(
        ended_at=Coalesce("completed_at", "expires_at")
    )


def sessions_images_due(*, now: datetime | None = None) -> QuerySet[KycSession]:
    now = now or timezone.now()
    return (
        _ended()
        .filter(_IMAGE_PRESENT, redaction_state=KycSession.RedactionState.NONE, images_removed_at__isnull=True)
        .filter(_due(now=now, days_field="images_days", default_days=settings.RETENTION_IMAGES_DAYS))
        .order_by("ended_at")
    )


def sessions_personal_data_due(*, now: datetime | None = None) -> QuerySet[KycSession]:
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
