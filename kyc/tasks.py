"""Lifecycle jobs run by beat, one job per beat entry (truestack/settings/base.py).
Each is idempotent and safe to run twice at once: sessions are claimed with
conditional updates and applied under row locks."""

from celery import shared_task

from . import callbacks, redaction, services
from .idempotency import idempotency_records_purge


@shared_task(acks_late=True, ignore_result=True)
def poll_stale_sessions() -> int:
    return services.sessions_poll_stale()


@shared_task(acks_late=True, ignore_result=True)
def fail_orphaned_sessions() -> int:
    return services.sessions_fail_orphans()


@shared_task(acks_late=True, ignore_result=True)
def expire_sessions() -> int:
    return services.sessions_expire_due()


@shared_task(acks_late=True, ignore_result=True)
def reprocess_callbacks() -> int:
    return callbacks.callbacks_reprocess()


@shared_task(acks_late=True, ignore_result=True)
def purge_refused_callbacks() -> int:
    return callbacks.callbacks_purge_refused()


@shared_task(acks_late=True, ignore_result=True)
def purge_idempotency_records() -> int:
    return idempotency_records_purge()


@shared_task(acks_late=True, ignore_result=True)
def redact_session(session_id: str) -> bool:
    return redaction.session_redact(session_id=session_id)


@shared_task(acks_late=True, ignore_result=True)
def apply_retention() -> int:
    run = redaction.retention_run()
    return run.redacted + run.images_removed + run.retried
