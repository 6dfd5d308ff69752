import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests

from billing.models import LedgerEntry
from kyc.innovatif import crypto
from kyc.innovatif.credentials import credentials_sandbox
from kyc.models import KycSession, ProviderCallback
from webhooks.models import Event

from .helpers import create_session, sandbox_complete

pytestmark = pytest.mark.django_db(transaction=True)

CALLBACK_PATH = "/api/internal/webhooks/innovatif/ekyc"


@pytest.fixture
def session(api, funded, provider, valid_body):
    return KycSession.objects.get(pk=create_session(api, valid_body)["id"])


def callback_payload(session, *, status=2, result=1, ref_id=None, onboarding_id=None, request_time=None, **extra):
    creds = credentials_sandbox()
    ref_id = ref_id or session.provider_ref_id
    request_time = request_time or crypto.request_time_now()
    payload = {
        "ref_id": ref_id,
        "onboarding_id": onboarding_id or session.onboarding_id,
        "request_time": request_time,
        "signature": crypto.sign(
            api_key=creds.api_key,
            md5_key=creds.md5_key,
            package_name=creds.package_name,
            ref_id=ref_id,
            request_time=request_time,
        ),
        "status": status,
        "result": result,
        "reject_message": None,
        "step1": {"ocr_result": {"full_name": "AHMAD BIN ABDULLAH", "front_document_number": "901234-56-7890"}},
        "step2": {"status": True, "is_identical": True, "percentage": "91.50"},
    }
    payload.update(extra)
    return payload


def send(live_server, body: bytes | str):
    return requests.post(
        f"{live_server.url}{CALLBACK_PATH}", data=body, timeout=30, headers={"Content-Type": "application/json"}
    )


def sealed(payload) -> str:
    return json.dumps(crypto.seal(payload, credentials_sandbox()))


def test_sandbox_callback_completes_session_bills_once_and_records_event(api, session, funded):
    sandbox_complete(session, outcome="approved", callbacks=3)
    session.refresh_from_db()
    assert session.status == "completed" and session.result == "approved"
    assert session.last_callback_at is not None
    assert LedgerEntry.objects.filter(session=session, kind="usage").count() == 1
    assert Event.objects.filter(session=session, kind="kyc.session.completed").count() == 1
    callbacks = ProviderCallback.objects.filter(session=session)
    assert callbacks.count() == 3 and set(callbacks.values_list("state", flat=True)) == {"processed"}
    # GET shows completed without any refresh call
    assert api.get(f"/api/v1/kyc/sessions/{session.id}").json()["status"] == "completed"


def test_status_1_moves_to_processing_and_status_3_expires(session, provider):
    assert send(provider, sealed(callback_payload(session, status=1, result=None))).status_code == 200
    session.refresh_from_db()
    assert session.status == "processing"
    assert send(provider, sealed(callback_payload(session, status=3, result=None))).status_code == 200
    session.refresh_from_db()
    assert session.status == "expired"
    assert Event.objects.filter(session=session, kind="kyc.session.expired").count() == 1
    assert not LedgerEntry.objects.filter(session=session, kind="usage").exists()
    assert session.hold.status == "released"


def test_final_session_never_moves_back(session, provider):
    send(provider, sealed(callback_payload(session, status=2, result=0)))
    for status in (1, 3, 2):
        send(provider, sealed(callback_payload(session, status=status, result=1)))
    session.refresh_from_db()
    assert session.status == "completed" and session.result == "rejected"
    assert LedgerEntry.objects.filter(session=session, kind="usage").count() == 1


def test_result_not_available_is_rejected(session, provider):
    send(provider, sealed(callback_payload(session, status=2, result=2)))
    session.refresh_from_db()
    assert session.result == "rejected"


def _assert_unchanged(session):
    fresh = KycSession.objects.get(pk=session.pk)
    assert fresh.status == "pending" and fresh.result is None
    assert not LedgerEntry.objects.filter(session=session, kind="usage").exists()
    assert not Event.objects.filter(session=session).exists()


@pytest.mark.parametrize(
    "body",
    [
        b"not json at all",
        b"{}",
        b'{"api_key": "SANDBOXapikey0123456789abcdefXYZ", "data": "!!!notbase64"}',
        b'{"api_key": "someone-else", "data": "H1JnzeI4TAh+KvU0x1qLjw=="}',
    ],
)
def test_garbage_is_refused_and_recorded(session, provider, body):
    response = send(provider, body)
    assert 400 <= response.status_code < 500
    assert ProviderCallback.objects.latest("received_at").state == "rejected"
    _assert_unchanged(session)


def test_unencrypted_body_is_refused(session, provider):
    plaintext = dict(callback_payload(session), api_key=credentials_sandbox().api_key)
    response = send(provider, json.dumps(plaintext))
    assert 400 <= response.status_code < 500
    _assert_unchanged(session)


def test_unencrypted_body_allowed_only_by_explicit_setting(session, provider, settings):
    settings.INNOVATIF_ALLOW_PLAINTEXT_CALLBACKS = True
    plaintext = dict(callback_payload(session), api_key=credentials_sandbox().api_key)
    assert send(provider, json.dumps(plaintext)).status_code == 200
    assert KycSession.objects.get(pk=session.pk).status == "completed"


def test_forged_signature_is_refused(session, provider):
    payload = callback_payload(session)
    payload["signature"] = "ZmFrZXNpZ25hdHVyZQ=="
    assert 400 <= send(provider, sealed(payload)).status_code < 500
    _assert_unchanged(session)


def test_replay_for_another_session_is_refused(api, session, provider, valid_body):
    other = KycSession.objects.get(pk=create_session(api, valid_body)["id"])
    # Signature made for `session`, transaction ids swapped to `other`.
    payload = callback_payload(session)
    payload["ref_id"] = other.provider_ref_id
    payload["onboarding_id"] = other.onboarding_id
    assert 400 <= send(provider, sealed(payload)).status_code < 500
    # Right signature for `other` but the onboarding id of `session`.
    mismatched = callback_payload(other, onboarding_id=session.onboarding_id)
    assert 400 <= send(provider, sealed(mismatched)).status_code < 500
    _assert_unchanged(session)
    _assert_unchanged(other)


def test_unknown_transaction_is_refused(session, provider):
    payload = callback_payload(session, ref_id="truestack_gateway_sandboxNOPE_1_2")
    assert 400 <= send(provider, sealed(payload)).status_code < 500
    assert ProviderCallback.objects.latest("received_at").error == "unknown transaction"


def test_failed_apply_is_kept_and_reprocessed(session, provider, monkeypatch):
    from kyc import callbacks, services

    original = services.session_apply_provider_result

    def boom(**kwargs):
        raise RuntimeError("crash mid-processing")

    monkeypatch.setattr(callbacks, "session_apply_provider_result", boom)
    response = send(provider, sealed(callback_payload(session)))
    assert response.status_code == 202
    stored = ProviderCallback.objects.get(session=session)
    assert stored.state == "failed"
    _assert_unchanged(session)

    monkeypatch.setattr(callbacks, "session_apply_provider_result", original)
    ProviderCallback.objects.filter(pk=stored.pk).update(received_at=stored.received_at.replace(year=2000))
    from kyc.tasks import reprocess_callbacks

    assert reprocess_callbacks() == 1
    assert KycSession.objects.get(pk=session.pk).status == "completed"
    assert ProviderCallback.objects.get(pk=stored.pk).state == "processed"


@pytest.mark.postgres
def test_twenty_concurrent_identical_callbacks_charge_and_notify_once(session, provider):
    body = sealed(callback_payload(session))
    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(lambda _: send(provider, body).status_code, range(20)))
    assert statuses == [200] * 20
    assert LedgerEntry.objects.filter(session=session, kind="usage").count() == 1
    assert Event.objects.filter(session=session).count() == 1
    assert ProviderCallback.objects.filter(session=session, state="processed").count() == 20
    from django.core.management import call_command

    call_command("check_ledger")


@pytest.mark.postgres
def test_callback_racing_refresh_and_poll(api, session, provider, settings):
    settings.KYC_POLL_AFTER = timedelta(0)
    sandbox_complete(session, outcome="approved", send_callback=False)
    body = sealed(callback_payload(session))
    from kyc.services import sessions_poll_stale

    def run(i):
        if i % 3 == 0:
            return send(provider, body).status_code
        if i % 3 == 1:
            return requests.post(
                f"{provider.url}/api/v1/kyc/sessions/{session.id}",
                headers={"Authorization": f"Bearer {api.raw_key}"},
                timeout=30,
            ).status_code
        from django.db import connection

        try:
            sessions_poll_stale()
        finally:
            connection.close()
        return 200

    with ThreadPoolExecutor(max_workers=9) as pool:
        assert all(code == 200 for code in pool.map(run, range(9)))
    assert LedgerEntry.objects.filter(session=session, kind="usage").count() == 1
    assert Event.objects.filter(session=session).count() == 1


def test_applied_callback_body_is_dropped_and_refused_one_kept(session, provider):
    send(provider, sealed(callback_payload(session)))
    applied = ProviderCallback.objects.get(session=session)
    assert applied.state == "processed" and applied.body == "" and len(applied.body_sha256) == 64
    send(provider, b"x" * 100_000)
    refused = ProviderCallback.objects.latest("received_at")
    assert refused.state == "rejected" and refused.body == "x" * 64 * 1024


def test_a_completing_callback_statement_count_is_pinned(api, client, session, valid_body):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    first = client.post(CALLBACK_PATH, data=sealed(callback_payload(session)), content_type="application/json")
    assert first.status_code == 200
    second = KycSession.objects.get(pk=create_session(api, valid_body)["id"])
    with CaptureQueriesContext(connection) as captured:
        response = client.post(CALLBACK_PATH, data=sealed(callback_payload(second)), content_type="application/json")
    assert response.status_code == 200, response.content
    sql = [q["sql"] for q in captured.captured_queries]
    # callback stored (attempt counted); session looked up; one transaction: callback
    # marked processed, session locked, already-charged check, price list, hold,
    # session (with the event number and the quoted cost), event, delivery; last the
    # client's hot rows: open-session tally, then the charge. On PostgreSQL the charge
    # is one call (truestack_usage_charge); elsewhere: account locked, the month's
    # usage count, usage entry, hold captured, account.
    if connection.vendor == "postgresql":
        assert len(sql) == 14, json.dumps(sql, indent=1)
        assert "truestack_usage_charge" in sql[-2] and sql[-1].startswith("COMMIT"), sql[-3:]
    else:
        assert len(sql) == 18, json.dumps(sql, indent=1)
        assert "billing_creditaccount" in sql[-2] and sql[-1].startswith("COMMIT"), sql[-3:]
    assert "kyc_opensessiontally" in sql[-3 if connection.vendor == "postgresql" else -7], sql
    assert sum(q.startswith("COMMIT") for q in sql) == 1  # applied and marked processed together
    assert LedgerEntry.objects.get(session=second, kind="usage").month_ordinal == 2
