"""Redaction and retention: removing a session's images and personal fields while
keeping what billing, audit and statistics need.

A redaction is asked for (client API, staff, or the retention job) under the
session row lock, which marks the session `pending` and queues `redact_session`
after commit; the task deletes the images and overwrites the fields, and is
idempotent. Once `pending`, `session_apply_provider_result` writes nothing back."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from truestack.errors import SessionStillOpen
from webhooks import services as webhooks
from webhooks.models import Event

from . import presenters
from .documents import images_delete
from .models import KycSession, PersonalDataAccess, ProviderCallback
from .privacy import personal_data_access_record, redacted_values
from .selectors import EndedSession, sessions_images_due, sessions_personal_data_due, sessions_redaction_stalled
from .services import session_event_record

logger = logging.getLogger(__name__)


def _enqueue(session_id: str) -> None:
    try:
        # By name: kyc.tasks imports this module.
        current_app.send_task("kyc.tasks.redact_session", args=[session_id])
    except Exception:  # noqa: BLE001 - the broker may be down; the retention job retries pending ones
        logger.warning("redaction of session %s could not be queued; the retention job will retry", session_id)


def session_redaction_request(
    *, session: KycSession, user: Any = None, source: str, reason: str = "", request: HttpRequest | None = None
) -> KycSession:
    """Ask for `session` to be redacted; returns it re-read. Open sessions are
    refused (SessionStillOpen, 409). A second request changes nothing (the task is
    queued again while pending, in case the first was lost)."""
    with transaction.atomic():
        session = KycSession.objects.select_for_update().get(pk=session.pk)
        if session.is_open:
            raise SessionStillOpen("Open sessions cannot be redacted; wait until the session completes or expires")
        if session.redaction_state == KycSession.RedactionState.NONE:
            session.redaction_state = KycSession.RedactionState.PENDING
            session.redaction_requested_at = timezone.now()
            session.save(update_fields=["redaction_state", "redaction_requested_at", "updated_at"])
            detail = f"{source}: {reason}" if reason else source
            personal_data_access_record(
                user=user, what=PersonalDataAccess.What.REDACTION, session=session, request=request, detail=detail
            )
        if session.redaction_state == KycSession.RedactionState.PENDING:
            transaction.on_commit(partial(_enqueue, str(session.pk)))
    return session


def session_redact(*, session_id: Any) -> bool:
    """Do a requested redaction (the task's work). Idempotent: returns False when
    there is nothing (more) to do."""
    session = KycSession.objects.filter(pk=session_id).first()
    if session is None or session.redaction_state != KycSession.RedactionState.PENDING:
        return False
    # Storage first: a crash after it leaves the session pending, and a rerun deletes nothing new.
    images_delete(session=session)
    now = timezone.now()
    with transaction.atomic():
        session = KycSession.objects.select_for_update().get(pk=session_id)
        if session.redaction_state != KycSession.RedactionState.PENDING:
            return False
        for name, value in redacted_values(session).items():
            setattr(session, name, value)
        session.redaction_state = KycSession.RedactionState.REDACTED
        session.redacted_at = now
        session.images_removed_at = session.images_removed_at or now
        session.save()
        # Refused callbacks keep a truncated (encrypted, personal) body for inspection.
        ProviderCallback.objects.filter(session=session).exclude(body="").update(body="")
        # Stored webhook bodies (sent, or waiting for a retry) are rewritten without personal data.
        webhooks.event_bodies_replace(
            session_id=session.pk,
            payload_for=lambda event, current: presenters.session_webhook_payload_redacted(
                session=session, event_kind=event.kind, event_id=event.id, created_at=event.created_at, current=current
            ),
        )
        if session.status != KycSession.Status.FAILED:  # the client never saw a failed session's id
            session_event_record(session=session, kind=Event.Kind.SESSION_REDACTED)
    logger.info("session %s redacted", session.pk)
    return True


def session_images_remove(*, session: KycSession) -> bool:
    """Retention of images: delete them from storage and forget their paths; the
    rest of the session stays."""
    if session.images_removed_at is not None or session.redaction_started:
        return False
    images_delete(session=session)
    with transaction.atomic():
        locked = KycSession.objects.select_for_update().get(pk=session.pk)
        if locked.images_removed_at is not None or locked.redaction_started:
            return False
        for kind in KycSession.DOCUMENT_KINDS:
            setattr(locked, kind, "")
        locked.images_removed_at = timezone.now()
        locked.save(update_fields=[*KycSession.DOCUMENT_KINDS, "images_removed_at", "updated_at"])
    return True


# --- retention ----------------------------------------------------------------------


@dataclass
class RetentionRun:
    images_removed: int = 0
    redacted: int = 0
    retried: int = 0
    images_due: list[EndedSession] = field(default_factory=list)
    personal_data_due: list[EndedSession] = field(default_factory=list)


def retention_run(*, dry_run: bool = False, batch_size: int | None = None) -> RetentionRun:
    """One bounded batch of the retention policy: redact sessions past their
    personal-data retention, remove images past theirs, and finish redactions
    whose task was lost. With `dry_run`, only report what would be done."""
    limit = batch_size or settings.RETENTION_BATCH_SIZE
    now = timezone.now()
    run = RetentionRun(
        personal_data_due=list(sessions_personal_data_due(now=now).select_related("client")[:limit]),
        images_due=list(sessions_images_due(now=now).select_related("client")[:limit]),
    )
    if dry_run:
        return run
    for session in run.personal_data_due:
        session_redaction_request(session=session, source="retention", reason="personal data retention period ended")
        run.redacted += int(session_redact(session_id=session.pk))
    personal = {session.pk for session in run.personal_data_due}
    for session in run.images_due:
        if session.pk not in personal:
            run.images_removed += int(session_images_remove(session=session))
    for stalled in sessions_redaction_stalled(now=now)[:limit]:
        run.retried += int(session_redact(session_id=stalled.pk))
    logger.info(
        "retention: %d sessions redacted, images removed from %d, %d stalled redactions finished",
        run.redacted,
        run.images_removed,
        run.retried,
    )
    return run
