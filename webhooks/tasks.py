"""Celery tasks for outbound webhooks. Both are safe to run twice: the delivery
is claimed with a conditional UPDATE, and the sweep only queues task ids."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from . import services

# A database that is failing over answers OperationalError/InterfaceError; the task
# is retried (the broken connection is closed after the task, see truestack/celery.py)
# instead of being dropped and left for the sweep a minute later.
DATABASE_TROUBLE = (OperationalError, InterfaceError)


# Its own queue, so slow receivers never hold up other work (see docs/webhooks.md).
# acks_late + reject_on_worker_lost come from settings; repeated here because
# at-least-once delivery depends on them.
@shared_task(
    name="webhooks.tasks.deliver",
    queue="webhooks",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    autoretry_for=DATABASE_TROUBLE,
    retry_backoff=1,
    retry_backoff_max=30,
    max_retries=20,
)
def deliver(delivery_id: str) -> str:
    return services.delivery_attempt(delivery_id=delivery_id)


@shared_task(name="webhooks.tasks.sweep_due_deliveries", ignore_result=True)
def sweep_due_deliveries() -> int:
    return len(services.deliveries_sweep())


@shared_task(name="webhooks.tasks.redeliver_events", ignore_result=True)
def redeliver_events(job_id: str) -> int:
    """One batch of a client's bulk replay; queues the next batch itself."""
    return services.bulk_redelivery_run(job_id=job_id)


@shared_task(name="webhooks.tasks.resume_bulk_redeliveries", ignore_result=True)
def resume_bulk_redeliveries() -> int:
    return services.bulk_redeliveries_resume()


@shared_task(name="webhooks.tasks.purge_expired_events", ignore_result=True)
def purge_expired_events() -> int:
    return services.events_purge_expired()
