"""Recording events: the payload, its one-time serialization, idempotency."""

import json
import re
from decimal import Decimal

import pytest

from kyc.services import session_event_record as event_record
from truestack.formats import iso_utc
from webhooks.models import Delivery, Event

pytestmark = pytest.mark.django_db

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_completed_event_body_follows_the_contract(make_session, django_capture_on_commit_callbacks):
    session = make_session("https://hooks.example.com/kyc")
    with django_capture_on_commit_callbacks() as callbacks:
        event = event_record(session=session, kind=Event.Kind.SESSION_COMPLETED)

    body = bytes(event.body)
    payload = json.loads(body)
    # The contract's fields, in its order; then the additive `sequence` (docs/webhooks.md, "Ordering").
    assert list(payload) == ["id", "event", "timestamp", "data", "sequence"]
    assert payload["sequence"] == 1
    assert payload["id"] == str(event.id)
    assert payload["event"] == "kyc.session.completed"
    assert TIMESTAMP.match(payload["timestamp"])
    contract_data = dict(payload["data"])
    assert contract_data.pop("updated_at") == iso_utc(session.updated_at)
    assert contract_data == {
        "session_id": str(session.id),
        "ref_id": session.ref_id,
        "status": "completed",
        "result": "approved",
        "document_name": "Ahmad bin Abdullah",
        "document_number": "900101-01-5555",
        "ocr_data": {
            "name": "AHMAD BIN ABDULLAH",
            "ic_number": "900101015555",
            "address": "123 JALAN EXAMPLE, 50000 KUALA LUMPUR",
            "gender": "LELAKI",
            "nationality": "WARGANEGARA",
            "date_of_birth": "1990-01-01",
        },
        "face_match_score": 0.955,
        "liveness_score": 1.0,
        "metadata": {"user_id": "usr_12345", "application_id": "app_67890"},
    }
    # Compact JSON, serialized once: the stored bytes are what gets signed and sent.
    assert body == json.dumps(payload, separators=(",", ":")).encode()

    delivery = Delivery.objects.get(event=event)
    assert delivery.url == "https://hooks.example.com/kyc"
    assert delivery.state == Delivery.State.PENDING
    assert delivery.next_attempt_at is not None
    assert len(callbacks) == 1  # first attempt queued on commit, no wait for the sweep


def test_expired_event_has_no_result_ocr_or_scores(make_session):
    session = make_session("https://hooks.example.com/kyc", status="expired", result=None)
    event = event_record(session=session, kind=Event.Kind.SESSION_EXPIRED)
    data = json.loads(bytes(event.body))["data"]
    assert json.loads(bytes(event.body))["event"] == "kyc.session.expired"
    assert data["status"] == "expired"
    assert data["result"] is None
    assert data["ocr_data"] is None
    assert data["face_match_score"] is None
    assert data["liveness_score"] is None
    assert data["session_id"] == str(session.id)
    assert data["metadata"] == {"user_id": "usr_12345", "application_id": "app_67890"}


@pytest.mark.parametrize(
    ("passed", "score", "face", "face_score"),
    [(False, 0.0, Decimal("80.99"), 0.8099), (None, None, None, None), (True, 1.0, Decimal("100"), 1.0)],
)
def test_scores_are_zero_to_one(make_session, passed, score, face, face_score):
    session = make_session("https://hooks.example.com/kyc", liveness_passed=passed, face_match_score=face)
    data = json.loads(bytes(event_record(session=session, kind=Event.Kind.SESSION_COMPLETED).body))["data"]
    assert data["liveness_score"] == score
    assert data["face_match_score"] == face_score


def test_event_record_is_idempotent_per_session_and_kind(make_session, django_capture_on_commit_callbacks):
    session = make_session("https://hooks.example.com/kyc")
    with django_capture_on_commit_callbacks() as callbacks:
        first = event_record(session=session, kind=Event.Kind.SESSION_COMPLETED)
        second = event_record(session=session, kind=Event.Kind.SESSION_COMPLETED)
    assert first is not None
    assert second is None
    assert Event.objects.filter(session=session).count() == 1
    assert Delivery.objects.filter(event__session=session).count() == 1
    assert len(callbacks) == 1
    # A different kind for the same session is its own event.
    assert event_record(session=session, kind=Event.Kind.SESSION_EXPIRED) is not None


def test_non_ascii_values_are_escaped_so_bytes_are_stable(make_session):
    session = make_session("https://hooks.example.com/kyc", document_name="Siti Nurhaliza binti Tarudin — é")
    body = bytes(event_record(session=session, kind=Event.Kind.SESSION_COMPLETED).body)
    body.decode("ascii")
    assert json.loads(body)["data"]["document_name"] == "Siti Nurhaliza binti Tarudin — é"
