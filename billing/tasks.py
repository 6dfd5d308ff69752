"""Scheduled billing jobs (beat entries in settings). Both are idempotent and
safe to run twice at once."""

from celery import shared_task

from . import invoices, pdf


@shared_task(acks_late=True, ignore_result=True)
def generate_monthly_documents() -> dict:
    """Statements (and post-paid invoices) for the month before this one, Kuala Lumpur time."""
    outcome = invoices.monthly_documents_generate()
    pdf.documents_store(outcome["statements"] + outcome["invoices"])
    return {
        "month": outcome["month"].strftime("%Y-%m"),
        "statements": len(outcome["statements"]),
        "invoices": len(outcome["invoices"]),
    }


@shared_task(acks_late=True, ignore_result=True)
def mark_overdue_invoices() -> int:
    return invoices.invoices_mark_overdue()
