"""Redaction through the client API: 202 pending then redacted, nothing personal
left in the row, storage, stored webhook bodies or callbacks; documents 410;
idempotent; open sessions 409; late provider results write nothing back."""

import base64
import json
import threading

import pytest
from django.core.files.storage import default_storage
from django.db import connection

from billing.models import LedgerEntry
from kyc import tasks
from kyc.innovatif.mapping import ProviderResult
from kyc.models import KycSession, PersonalDataAccess, ProviderCallback, session_file_path
from kyc.privacy import REDACTED
from kyc.redaction import session_redact, session_redaction_request
from kyc.services import session_apply_provider_result
from webhooks.models import Event

from .helpers import create_session, sandbox_complete
from .test_callbacks import callback_payload, sealed, send
from .test_create import assert_error

pytestmark = pytest.mark.django_db(transaction=True)

PERSONAL = ("Ahmad", "AHMAD", "901234", "567890", "JALAN", "usr_12345")


@pytest.fixture
def completed(api, funded, provider, valid_body):
    session = KycSession.objects.get(pk=create_session(api, valid_body)["id"])
    sandbox_complete(session, outcome="approved")
    session.refresh_from_db()
    assert session.status == "completed" and session.front_document
    return session


def stored_paths(session):
    return [session_file_path(session, kind) for kind in KycSession.DOCUMENT_KINDS]


def assert_nothing_personal(text: str):
    for fragment in PERSONAL:
        assert fragment not in text, fragment


def redact(api, session):
    return api.post(f"/api/v1/kyc/sessions/{session.id}/redact")


def test_redact_then_everything_personal_is_gone(api, completed, live_server):
    assert any(default_storage.exists(path) for path in stored_paths(completed))
    charged = list(LedgerEntry.objects.filter(session=completed).values_list("id", "amount"))
    assert charged  # billed before, kept after

    response = redact(api, completed)
    assert response.status_code == 202
    pending = response.json()
    assert pending["redaction"] == "pending" and pending["redacted"] is False
    assert pending["id"] == str(completed.id) and pending["status"] == "completed" and pending["result"] == "approved"
    assert_nothing_personal(json.dumps(pending))  # hidden at once, before the task ran
    assert all(url is None for url in pending["documents"].values())
    for kind in KycSession.DOCUMENT_KINDS:
        assert_error(api.get(f"/api/v1/kyc/sessions/{completed.id}/documents/{kind}"), 410, "GONE")

    assert tasks.redact_session(str(completed.id)) is True  # the queued task's work
    assert tasks.redact_session(str(completed.id)) is False  # idempotent

    body = api.get(f"/api/v1/kyc/sessions/{completed.id}").json()
    assert body["redacted"] is True and body["redaction"] == "redacted"
    assert body["document_name"] == REDACTED and body["document_number"] == REDACTED
    assert body["metadata"] == {"user_id": REDACTED}
    assert body["ocr_result"]["name"] == REDACTED and body["ocr_result"]["address"] == REDACTED
    assert_nothing_personal(json.dumps(body))
    for kind in KycSession.DOCUMENT_KINDS:
        assert_error(api.get(f"/api/v1/kyc/sessions/{completed.id}/documents/{kind}"), 410, "GONE")
    assert not any(default_storage.exists(path) for path in stored_paths(completed))

    refreshed = api.post(f"/api/v1/kyc/sessions/{completed.id}").json()
    assert refreshed["refreshed"] is False and refreshed["redacted"] is True
    assert all(url is None for url in refreshed["images"].values())
    assert_nothing_personal(json.dumps(refreshed))

    row = KycSession.objects.get(pk=completed.pk)
    assert row.date_of_birth is None and row.raw_result == {} and row.redacted_at and row.images_removed_at
    assert (row.status, row.result, row.face_match, row.liveness_passed) == ("completed", "approved", True, True)
    assert list(LedgerEntry.objects.filter(session=completed).values_list("id", "amount")) == charged
    assert not ProviderCallback.objects.filter(session=completed).exclude(body="").exists()

    events = {event.kind: json.loads(bytes(event.body)) for event in Event.objects.filter(session=completed)}
    assert set(events) == {"kyc.session.completed", "kyc.session.redacted"}
    assert events["kyc.session.redacted"]["data"]["redacted"] is True
    assert events["kyc.session.redacted"]["data"]["result"] == "approved"
    assert_nothing_personal(json.dumps(events))  # the stored completed body was rewritten too

    audit = PersonalDataAccess.objects.get(session=completed)
    assert audit.what == "redaction" and audit.user is None and audit.detail == "client API"


def test_second_call_is_202_with_the_same_state_and_no_second_event(api, completed):
    first = redact(api, completed)
    second = redact(api, completed)
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    session_redact(session_id=completed.pk)
    third, fourth = redact(api, completed), redact(api, completed)
    assert third.status_code == fourth.status_code == 202 and third.json() == fourth.json()
    assert third.json()["redacted"] is True
    assert Event.objects.filter(session=completed, kind="kyc.session.redacted").count() == 1
    assert PersonalDataAccess.objects.filter(session=completed, what="redaction").count() == 1


def test_open_session_is_409_and_unchanged(api, funded, provider, valid_body):
    session = KycSession.objects.get(pk=create_session(api, valid_body)["id"])
    body = assert_error(redact(api, session), 409, "SESSION_OPEN")
    assert "wait until the session completes or expires" in body["message"]
    session.refresh_from_db()
    assert session.redaction_state == "" and session.document_name == "Ahmad bin Abdullah"
    assert "redacted" not in api.get(f"/api/v1/kyc/sessions/{session.id}").json()


def test_other_clients_and_unknown_sessions_are_404(completed, make_client, make_api_key):
    from rest_framework.test import APIClient

    _, raw = make_api_key(make_client(code="OTHER"))
    intruder = APIClient()
    intruder.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert_error(intruder.post(f"/api/v1/kyc/sessions/{completed.id}/redact"), 404, "NOT_FOUND")
    assert_error(intruder.post("/api/v1/kyc/sessions/not-a-uuid/redact"), 404, "NOT_FOUND")
    completed.refresh_from_db()
    assert completed.redaction_state == ""


def test_late_callback_with_images_after_redaction_writes_nothing(api, completed, live_server):
    redact(api, completed)
    session_redact(session_id=completed.pk)
    image = base64.b64encode(b"\xff\xd8\xff late image \xff\xd9").decode()
    payload = callback_payload(
        completed,
        step1={
            "ocr_result": {"full_name": "AHMAD BIN ABDULLAH", "front_document_number": "901234-56-7890"},
            "front_document_image": image,
        },
    )
    response = send(live_server, sealed(payload))
    assert response.status_code == 200
    row = KycSession.objects.get(pk=completed.pk)
    assert row.ocr_full_name == REDACTED and row.front_document == ""
    assert not any(default_storage.exists(path) for path in stored_paths(completed))


def _late_result():
    return ProviderResult(
        status=KycSession.Status.COMPLETED,
        result=KycSession.Result.APPROVED,
        provider_status="2",
        provider_result="1",
        reject_message=None,
        full_name="AHMAD BIN ABDULLAH",
        id_number="901234-56-7890",
        address="1 JALAN LATE",
        images={"front_document": b"late front", "face_image": b"late face"},
    )


def test_stale_reader_storing_images_during_redaction_removes_them(api, completed):
    """A result read while the session was still open (images written before the
    row lock) that lands after redaction started: the files it wrote are deleted."""
    stale = KycSession.objects.get(pk=completed.pk)
    stale.status = KycSession.Status.PROCESSING  # as the caller saw it before completion
    redact(api, completed)
    session, changed = session_apply_provider_result(session=stale, result=_late_result(), via="callback")
    assert changed is False
    assert not default_storage.exists(session_file_path(completed, "face_image"))
    session_redact(session_id=completed.pk)
    row = KycSession.objects.get(pk=completed.pk)
    assert row.ocr_address == REDACTED and row.face_image == ""
    assert not any(default_storage.exists(path) for path in stored_paths(completed))


def test_staff_request_records_user_reason_and_address(completed, django_user_model, rf):
    user = django_user_model.objects.create_user("ops-redactor", is_staff=True)
    request = rf.post("/admin/", REMOTE_ADDR="198.51.100.7")
    session_redaction_request(session=completed, user=user, source="staff", reason="ticket 42", request=request)
    row = PersonalDataAccess.objects.get(session=completed)
    assert (row.username, row.what, row.detail, row.remote_addr) == (
        "ops-redactor",
        "redaction",
        "staff: ticket 42",
        "198.51.100.7",
    )


@pytest.mark.postgres
def test_redaction_racing_a_stale_provider_result_leaves_nothing(api, completed):
    """Threads: a stale result writing images and the redaction (request + task)
    at the same moment, many times; whatever the order, nothing personal is left."""
    assert connection.vendor == "postgresql"
    for _ in range(5):
        session = KycSession.objects.get(pk=completed.pk)
        KycSession.objects.filter(pk=session.pk).update(redaction_state="", redacted_at=None)
        stale = KycSession.objects.get(pk=completed.pk)
        stale.status = KycSession.Status.PROCESSING
        barrier = threading.Barrier(2)
        errors = []

        def apply_late():
            try:
                barrier.wait()
                session_apply_provider_result(session=stale, result=_late_result(), via="callback")
            except Exception as exc:
                errors.append(exc)
            finally:
                connection.close()

        def redact_now():
            try:
                barrier.wait()
                session_redaction_request(session=session, source="client API")
                session_redact(session_id=session.pk)
            except Exception as exc:
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=apply_late), threading.Thread(target=redact_now)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        row = KycSession.objects.get(pk=completed.pk)
        assert row.redaction_state == "redacted" and row.ocr_address == REDACTED and row.face_image == ""
        assert not any(default_storage.exists(path) for path in stored_paths(completed))


def test_reading_a_pending_redaction_costs_no_extra_queries(api, completed, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url, listing = f"/api/v1/kyc/sessions/{completed.id}", "/api/v1/kyc/sessions"
    api.get(url)  # warm up (connection, rate-limit window)
    with CaptureQueriesContext(connection) as before:
        api.get(url)
    with CaptureQueriesContext(connection) as listed_before:
        api.get(listing)
    detail_queries, listing_queries = len(before), len(listed_before)
    assert detail_queries >= 2 and listing_queries >= 2
    redact(api, completed)
    with django_assert_num_queries(detail_queries):
        body = api.get(url).json()
    assert body["redaction"] == "pending"
    with django_assert_num_queries(listing_queries):
        items = api.get(listing).json()["results"]
    assert items[0]["redaction"] == "pending" and items[0]["document_number"] == REDACTED
