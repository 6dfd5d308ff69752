"""Retention: per-client policies over settings defaults, bounded batches, the
dry run, counts in the log and for the dashboard, subject access export."""

import io
import json
import logging
import uuid
import zipfile
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.utils import timezone

from kyc.documents import store_images
from kyc.models import KycSession, PersonalDataAccess, RetentionPolicy
from kyc.privacy import REDACTED
from kyc.redaction import retention_run
from kyc.selectors import retention_summary
from webhooks.models import Event

pytestmark = pytest.mark.django_db


@pytest.fixture
def ended(acme, acme_key):
    def _make(days_ago, *, client=None, key=None, images=True, status="completed", number="901234-56-7890"):
        now = timezone.now()
        session = KycSession.objects.create(
            client=client or acme,
            api_key=key or acme_key[0],
            ref_id=f"RET{uuid.uuid4().hex[:20]}",
            document_name="Ahmad bin Abdullah",
            document_number=number,
            webhook_url="https://example.com/h",
            metadata={"user_id": "usr_12345"},
            status=status,
            result="approved" if status == "completed" else None,
            ocr_full_name="AHMAD BIN ABDULLAH" if status == "completed" else "",
            ocr_id_number=number if status == "completed" else "",
            ocr_address="1 JALAN AMPANG, 50450 KUALA LUMPUR" if status == "completed" else "",
            expires_at=now - timedelta(days=days_ago),
            completed_at=now - timedelta(days=days_ago) if status == "completed" else None,
            face_match=True,
        )
        if images:
            paths = store_images(session=session, images={"front_document": b"front", "face_image": b"face"})
            KycSession.objects.filter(pk=session.pk).update(**paths)
            session.refresh_from_db()
        return session

    return _make


def test_defaults_remove_images_after_30_days_and_redact_after_365(ended, caplog):
    fresh, old_images, old_everything = ended(5), ended(40), ended(400)
    expired_old = ended(400, images=False, status="expired")
    failed_old = ended(400, images=False, status="failed")
    with caplog.at_level(logging.INFO, logger="kyc"):
        run = retention_run()
    assert (run.redacted, run.images_removed) == (3, 1)
    (
        fresh.refresh_from_db(),
        old_images.refresh_from_db(),
        old_everything.refresh_from_db(),
        expired_old.refresh_from_db(),
    )
    assert fresh.front_document and fresh.images_removed_at is None and fresh.redaction_state == ""
    assert old_images.front_document == "" and old_images.images_removed_at is not None
    assert old_images.ocr_full_name == "AHMAD BIN ABDULLAH" and old_images.redaction_state == ""
    assert not default_storage.exists(f"kyc/{old_images.client_id}/{old_images.id}/front_document.jpg")
    assert old_everything.is_redacted and old_everything.ocr_address == REDACTED
    assert expired_old.is_redacted and expired_old.document_number == REDACTED
    failed_old.refresh_from_db()
    assert failed_old.is_redacted and failed_old.document_name == REDACTED
    # No webhook for the failed one: its id was never given to the client.
    assert set(Event.objects.filter(kind="kyc.session.redacted").values_list("session_id", flat=True)) == {
        old_everything.id,
        expired_old.id,
    }
    assert PersonalDataAccess.objects.filter(what="redaction", detail__startswith="retention").count() == 3
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "3 sessions redacted, images removed from 1" in logged
    assert "AHMAD" not in logged and "901234" not in logged
    assert retention_run().redacted == 0  # nothing left to do


def test_client_policy_overrides_the_defaults(ended, make_client, make_api_key):
    strict = make_client(code="STRICT")
    strict_key = make_api_key(strict)[0]
    RetentionPolicy.objects.create(client=strict, images_days=1, personal_data_days=7)
    RetentionPolicy.objects.create(client_id=ended(0).client_id, images_days=None, personal_data_days=None)
    strict_session = ended(10, client=strict, key=strict_key)
    default_session = ended(10)
    summary = retention_summary()
    assert summary["personal_data_due"] == 1 and summary["images_due"] == 1
    retention_run()
    strict_session.refresh_from_db(), default_session.refresh_from_db()
    assert strict_session.is_redacted
    assert not default_session.redaction_state and default_session.front_document


def test_batches_are_bounded(ended, settings):
    settings.RETENTION_BATCH_SIZE = 2
    for _ in range(5):
        ended(400, images=False)
    assert retention_run().redacted == 2
    assert retention_run().redacted == 2
    assert retention_run().redacted == 1
    assert retention_summary()["redacted"] == 5


def test_dry_run_prints_and_changes_nothing(ended):
    due = ended(400)
    images_only = ended(40)
    out = io.StringIO()
    call_command("retention_run", "--dry-run", stdout=out)
    text = out.getvalue()
    assert f"redact {due.id} client=ACME" in text and f"images {images_only.id} client=ACME" in text
    assert "Would redact 1 session(s)" in text and "Would remove the images of 1 session(s)" in text
    assert "AHMAD" not in text and "901234" not in text
    due.refresh_from_db(), images_only.refresh_from_db()
    assert due.redaction_state == "" and images_only.front_document
    out = io.StringIO()
    call_command("retention_run", stdout=out)
    assert "Redacted 1 session(s), removed the images of 1" in out.getvalue()


def test_stalled_pending_redaction_is_finished_by_the_job(ended):
    session = ended(3)
    KycSession.objects.filter(pk=session.pk).update(
        redaction_state="pending", redaction_requested_at=timezone.now() - timedelta(hours=1)
    )
    summary = retention_summary()
    assert summary["redaction_pending"] == 1
    assert retention_run().retried == 1
    session.refresh_from_db()
    assert session.is_redacted and session.front_document == ""


def test_beat_runs_the_retention_job(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["kyc-apply-retention"]
    assert entry["task"] == "kyc.tasks.apply_retention"


def test_subject_access_export_zip_is_complete_and_audited(ended, django_user_model, tmp_path, make_client):
    operator = django_user_model.objects.create_user("dpo", is_staff=True)
    first = ended(3, number="901234567890")  # stored without dashes: digits-only matching
    second = ended(2)
    ended(1, number="880101-14-5555")  # someone else
    out = tmp_path / "subject.zip"
    stdout = io.StringIO()
    call_command(
        "subject_access_export",
        "--id-number",
        "901234-56-7890",
        "--out",
        str(out),
        "--operator",
        "dpo",
        "--reason",
        "DSAR-17",
        stdout=stdout,
    )
    assert "2 session(s) exported" in stdout.getvalue()
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        data = json.loads(archive.read("subject.json"))
        assert archive.read(f"sessions/{first.id}/front_document.jpg") == b"front"
    assert {f"sessions/{second.id}/face_image.jpg", "subject.json"} <= names
    assert [item["session_id"] for item in data["sessions"]] == [str(first.id), str(second.id)]
    assert data["sessions"][0]["read_from_the_document"]["address"].startswith("1 JALAN AMPANG")
    rows = PersonalDataAccess.objects.filter(what="subject_access")
    assert {row.session_id for row in rows} == {first.id, second.id}
    assert all(row.user == operator and "DSAR-17" in row.detail and "901234" not in row.detail for row in rows)


def test_subject_access_needs_a_staff_operator_and_a_new_file(tmp_path, django_user_model):
    with pytest.raises(CommandError, match="No active staff user"):
        call_command("subject_access_export", "--id-number", "1", "--out", str(tmp_path / "a.zip"), "--operator", "x")
    django_user_model.objects.create_user("dpo", is_staff=True)
    existing = tmp_path / "b.zip"
    existing.write_bytes(b"")
    with pytest.raises(CommandError, match="exists"):
        call_command("subject_access_export", "--id-number", "1", "--out", str(existing), "--operator", "dpo")
