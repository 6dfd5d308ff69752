"""Lifecycle jobs run by beat. Each is idempotent and safe to run twice at once:
sessions are claimed with conditional updates and applied under row locks."""

from celery import shared_task

from . import callbacks, services
from .idempotency import idempotency_records_purge


@shared_task(acks_late=True, ignore_result=True)
def poll_stale_sessions() -> int:
    services.sessions_fail_orphans()
    return services.sessions_poll_stale()


@shared_task(acks_late=True, ignore_result=True)
def expire_sessions() -> int:
    return services.sessions_expire_due()


@shared_task(acks_late=True, ignore_result=True)
def reprocess_callbacks() -> int:
    idempotency_records_purge()
    return callbacks.callbacks_reprocess()
