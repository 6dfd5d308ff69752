"""Each lifecycle job is its own task with its own beat entry."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from kyc import tasks
from kyc.models import IdempotencyRecord


def test_every_lifecycle_job_has_its_own_beat_entry():
    scheduled = [entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()]
    assert len(scheduled) == len(set(scheduled))
    for job in ("poll_stale_sessions", "fail_orphaned_sessions", "expire_sessions", "reprocess_callbacks"):
        assert f"kyc.tasks.{job}" in scheduled
    assert "kyc.tasks.purge_idempotency_records" in scheduled


@pytest.mark.django_db
def test_purge_idempotency_records_deletes_only_expired_keys(acme):
    old = IdempotencyRecord.objects.create(client=acme, key="old", request_hash="a" * 64)
    fresh = IdempotencyRecord.objects.create(client=acme, key="fresh", request_hash="b" * 64)
    IdempotencyRecord.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - settings.IDEMPOTENCY_KEY_TTL - timedelta(minutes=1)
    )

    assert tasks.purge_idempotency_records() == 1
    assert list(IdempotencyRecord.objects.values_list("pk", flat=True)) == [fresh.pk]


@pytest.mark.django_db
def test_reprocess_callbacks_leaves_idempotency_records_alone(acme):
    record = IdempotencyRecord.objects.create(client=acme, key="old", request_hash="a" * 64)
    IdempotencyRecord.objects.filter(pk=record.pk).update(created_at=timezone.now() - timedelta(days=30))

    assert tasks.reprocess_callbacks() == 0
    assert IdempotencyRecord.objects.filter(pk=record.pk).exists()
