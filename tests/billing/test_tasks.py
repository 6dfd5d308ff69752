"""The billing beat jobs: what they run and when (Kuala Lumpur time)."""

import copy
from datetime import date, datetime, timedelta, timezone

import pytest
from django.conf import settings
from django.core.files.storage import default_storage

from billing import tasks
from billing.models import Invoice, Statement
from truestack.schedules import KualaLumpurCrontab

from .test_invoices import postpaid_january
from .test_statements import at

pytestmark = pytest.mark.django_db


def test_monthly_task_issues_last_months_documents_once(make_client, make_session, tiers):
    postpaid_january(make_client, make_session, tiers)
    with at(2026, 2, 1, 0, 30):
        first = tasks.generate_monthly_documents.apply().get()
        second = tasks.generate_monthly_documents.apply().get()
    assert first == {"month": "2026-01", "statements": 1, "invoices": 1}
    assert second == {"month": "2026-01", "statements": 0, "invoices": 0}
    statement = Statement.objects.get()
    assert statement.month == date(2026, 1, 1)
    monthly = Invoice.objects.get(kind="monthly")
    # The new documents' PDFs are already in storage.
    assert default_storage.exists(statement.pdf_path) and default_storage.exists(monthly.pdf_path)
    with at(2026, 2, 16, 1, 0):
        assert tasks.mark_overdue_invoices.apply().get() == 1


def test_beat_runs_the_monthly_job_at_0030_on_the_1st_in_kuala_lumpur():
    entry = settings.CELERY_BEAT_SCHEDULE["billing-monthly-documents"]
    assert entry["task"] == "billing.tasks.generate_monthly_documents"
    assert isinstance(entry["schedule"], KualaLumpurCrontab)
    schedule = copy.deepcopy(entry["schedule"])  # its clock is replaced below
    # Last run 31 Jan 16:00 UTC (1 Feb 00:00 in KL): next run 1 Feb 00:30 KL = 31 Jan 16:30 UTC.
    last = datetime(2026, 1, 31, 16, 0, tzinfo=timezone.utc)
    schedule.nowfun = lambda: last
    assert schedule.remaining_estimate(last) == timedelta(minutes=30)
    # Run at 1 Feb 00:30 KL: the next run is 1 March 00:30 KL (28 February has passed).
    ran = datetime(2026, 1, 31, 16, 30, tzinfo=timezone.utc)
    schedule.nowfun = lambda: ran
    assert ran + schedule.remaining_estimate(ran) == datetime(2026, 2, 28, 16, 30, tzinfo=timezone.utc)
    assert settings.CELERY_BEAT_SCHEDULE["billing-mark-overdue-invoices"]["task"] == (
        "billing.tasks.mark_overdue_invoices"
    )
