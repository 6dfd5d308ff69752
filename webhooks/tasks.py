"""Celery tasks for outbound webhooks. Both are safe to run twice: the delivery
is claimed with a conditional UPDATE, and the sweep only queues task ids."""

from celery import shared_task

from . import services


# Its own queue, so slow receivers never hold up other work (see docs/webhooks.md).
# acks_late + reject_on_worker_lost come from settings; repeated here because
# at-least-once delivery depends on them.
@shared_task(
    name="webhooks.tasks.deliver", queue="webhooks", acks_late=True, reject_on_worker_lost=True, ignore_result=True
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
