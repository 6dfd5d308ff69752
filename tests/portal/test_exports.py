"""CSV exports: streamed, as filtered on the list, personal columns only for
staff allowed to see personal data, each session export logged."""

import csv
import io

import pytest
from django.urls import reverse

from kyc.models import KycSession, PersonalDataAccess
from truestack import csvexport
from webhooks.models import Delivery

from .conftest import staff_browser

pytestmark = pytest.mark.django_db


def _rows(response):
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))


def test_sessions_export_follows_the_filters(admin_client, make_full_session):
    approved = make_full_session(name="Siti Nurhaliza")
    make_full_session(result=KycSession.Result.REJECTED)
    changelist = admin_client.get(reverse("admin:kyc_kycsession_changelist"), {"result__exact": "approved"})
    assert "export.csv?result__exact=approved" in changelist.content.decode()
    rows = _rows(admin_client.get(reverse("admin:kyc_kycsession_export_csv"), {"result__exact": "approved"}))
    assert [r["id"] for r in rows] == [str(approved.pk)]
    assert rows[0]["client"] == "ACME" and rows[0]["status"] == "completed"
    assert rows[0]["end_user_name"] == "Siti Nurhaliza" and rows[0]["document_number"] == "900101-01-5555"
    searched = _rows(admin_client.get(reverse("admin:kyc_kycsession_export_csv"), {"q": "siti"}))
    assert [r["id"] for r in searched] == [str(approved.pk)]
    log = PersonalDataAccess.objects.filter(what="export")
    assert log.count() == 2 and "with personal columns" in log.first().detail


def test_sessions_export_without_personal_columns_for_other_staff(viewer, make_full_session):
    make_full_session(name="Siti Nurhaliza")
    response = viewer.get(reverse("admin:kyc_kycsession_export_csv"))
    rows = _rows(response)
    assert len(rows) == 1
    assert "end_user_name" not in rows[0] and "document_number" not in rows[0]
    assert "Siti" not in str(rows)
    assert "without personal columns" in PersonalDataAccess.objects.get(what="export").detail


def test_export_needs_the_view_permission(make_full_session, db):
    nobody = staff_browser("nobody")
    assert nobody.get(reverse("admin:kyc_kycsession_export_csv")).status_code == 403
    assert nobody.get(reverse("admin:webhooks_delivery_export_csv")).status_code == 403


def test_deliveries_export(ops, make_full_session):
    session = make_full_session()
    make_full_session(status=KycSession.Status.EXPIRED)
    Delivery.objects.filter(event__session=session).update(state=Delivery.State.FAILED, last_error="HTTP 500")
    rows = _rows(ops.get(reverse("admin:webhooks_delivery_export_csv"), {"state__exact": "failed"}))
    assert [(r["session_id"], r["state"], r["last_error"], r["attempts"]) for r in rows] == [
        (str(session.pk), "failed", "HTTP 500", "2")
    ]


def test_export_reads_in_chunks(admin_client, make_full_session, monkeypatch):
    """The export iterates the queryset in chunks (never list()s it)."""
    for _ in range(5):
        make_full_session(with_history=False)
    monkeypatch.setattr(csvexport, "CHUNK_SIZE", 2)
    seen = []
    original = KycSession.objects.none().iterator

    def spy(self, chunk_size=None):
        seen.append(chunk_size)
        return original.__func__(self, chunk_size=chunk_size)

    monkeypatch.setattr(type(KycSession.objects.all()), "iterator", spy)
    rows = _rows(admin_client.get(reverse("admin:kyc_kycsession_export_csv")))
    assert len(rows) == 5
    assert seen == [2]
