import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from kyc.innovatif.crypto import seal
from kyc.innovatif.mapping import parse_result
from sandbox.models import SandboxTransaction
from tests.innovatif.helpers import sandbox_credentials
from tests.sandbox.utils import (
    CREATE_URL,
    STATUS_URL,
    answer,
    create_payload,
    create_transaction,
    post_envelope,
    status_payload,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _sandbox_settings(settings):
    settings.PUBLIC_BASE_URL = "http://testserver"
    settings.SANDBOX_LATENCY_MS = 0
    settings.SANDBOX_FAILURE_RATE = 0.0
    settings.SANDBOX_REFUSE_CONNECTIONS = False
    for name, value in vars(sandbox_credentials()).items():
        setattr(settings, f"SANDBOX_{name.upper()}", value)


def test_create_transaction_success(client):
    response = post_envelope(client, CREATE_URL, create_payload())
    body = response.json()
    assert response.status_code == 200
    assert body["success"] is True and isinstance(body["data"], str)
    data = answer(response)
    assert data["ref_id"] == "truestack_gateway_sandboxACME_m1x2y3z4_0a1b2c3d"
    assert data["onboarding_url"] == f"http://testserver/sandbox/innovatif/onboarding/{data['onboarding_id']}"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", data["expired_at"])
    txn = SandboxTransaction.objects.get()
    assert txn.status == 0
    assert txn.ref_id == "ACME_m1x2y3z4_0a1b2c3d"
    assert timedelta(minutes=299) < txn.expired_at - txn.created_at <= timedelta(minutes=301)
    assert (txn.callback_mode, txn.response_mode, txn.platform, txn.document_type) == ("2", "1", "Web", "1")


def test_onboarding_ids_are_random_and_unique(client):
    first = create_transaction(client, ref_id="R1")
    second = create_transaction(client, ref_id="R2")
    assert first["onboarding_id"] != second["onboarding_id"]
    assert len(first["onboarding_id"]) >= 32


def error_code(response):
    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "Failed"
    assert body["description"]
    return body["error_code"]


@pytest.mark.parametrize(
    "field",
    [
        "ref_id",
        "document_name",
        "document_number",
        "platform",
        "signature",
        "response_url",
        "callback_mode",
        "request_time",
    ],
)
def test_missing_parameter_is_100(client, field):
    payload = create_payload()
    del payload[field]
    response = post_envelope(client, CREATE_URL, payload)
    assert error_code(response) == "100"
    assert field in response.json()["description"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"platform": "Windows"},
        {"callback_mode": "7"},
        {"document_type": "99"},
        {"response_url": "javascript:alert(1)"},
        {"document_name": "x" * 101},
    ],
)
def test_invalid_parameter_is_100(client, overrides):
    assert error_code(post_envelope(client, CREATE_URL, create_payload(**overrides))) == "100"


def test_wrong_api_key_is_101(client):
    envelope = seal(create_payload(), sandbox_credentials())
    envelope["api_key"] = "WRONGapikey0123456789abcdefXYZ00"
    response = client.post(CREATE_URL, data=json.dumps(envelope), content_type="application/json")
    assert error_code(response) == "101"
    # inner api_key differs from the envelope's
    assert error_code(post_envelope(client, CREATE_URL, create_payload(api_key="X" * 32))) == "101"


def test_wrong_package_is_102(client):
    assert error_code(post_envelope(client, CREATE_URL, create_payload(package_name="other.pkg"))) == "102"


def test_ref_id_problems_are_103(client):
    create_transaction(client)
    assert error_code(post_envelope(client, CREATE_URL, create_payload())) == "103"  # duplicate
    assert error_code(post_envelope(client, CREATE_URL, create_payload(ref_id="R" * 33))) == "103"
    assert (
        error_code(post_envelope(client, STATUS_URL, status_payload("truestack_gateway_sandboxNOPE", "nope"))) == "103"
    )


def test_unknown_onboarding_id_for_known_ref_is_103(client):
    data = create_transaction(client)
    assert error_code(post_envelope(client, STATUS_URL, status_payload(data["ref_id"], "not-the-id"))) == "103"


def test_bad_signature_is_104(client):
    payload = create_payload()
    payload["signature"] = "ZTcwZDFlN2MyMjVjOWRmYzkyZGM1MDVkNWE0ZTg0NjU="
    assert error_code(post_envelope(client, CREATE_URL, payload)) == "104"


def test_create_signature_is_over_our_ref_and_get_status_over_prefixed(client):
    credentials = sandbox_credentials()
    payload = create_payload()
    payload["signature"] = credentials.sign(
        ref_id="truestack_gateway_sandbox" + payload["ref_id"], request_time=payload["request_time"]
    )
    assert error_code(post_envelope(client, CREATE_URL, payload)) == "104"

    data = create_transaction(client)
    payload = status_payload(data["ref_id"], data["onboarding_id"])
    payload["signature"] = credentials.sign(ref_id="ACME_m1x2y3z4_0a1b2c3d", request_time=payload["request_time"])
    assert error_code(post_envelope(client, STATUS_URL, payload)) == "104"


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[]",
        json.dumps({"api_key": "SANDBOXapikey0123456789abcdefXYZ", "data": "%%%"}).encode(),
        json.dumps({"api_key": "SANDBOXapikey0123456789abcdefXYZ"}).encode(),
    ],
)
def test_garbage_envelope_is_400(client, raw):
    assert error_code(client.post(CREATE_URL, data=raw, content_type="application/json")) == "400"


def test_gateway_is_post_only(client):
    assert client.get(CREATE_URL).status_code == 405


def test_failure_rate_knob_answers_105(client, settings):
    settings.SANDBOX_FAILURE_RATE = 1.0
    assert error_code(post_envelope(client, CREATE_URL, create_payload())) == "105"
    assert SandboxTransaction.objects.count() == 0


def test_refuse_knob_answers_503_without_body(client, settings):
    settings.SANDBOX_REFUSE_CONNECTIONS = True
    response = post_envelope(client, CREATE_URL, create_payload())
    assert response.status_code == 503
    assert response.content == b""


def test_get_status_modes(client):
    data = create_transaction(client)
    txn = SandboxTransaction.objects.get()
    txn.status, txn.result, txn.finished_at = 2, "1", timezone.now()
    txn.save()

    detail = answer(post_envelope(client, STATUS_URL, status_payload(data["ref_id"], data["onboarding_id"], mode=2)))
    summary = answer(post_envelope(client, STATUS_URL, status_payload(data["ref_id"], data["onboarding_id"], mode="1")))
    for key in ("front_document_image", "back_document_image", "face_image", "best_frame"):
        assert key in detail
        assert key not in summary
    assert detail["status"] == 2 and detail["result"] == 1
    assert detail["ref_id"] == data["ref_id"]
    parsed = parse_result(detail)
    assert parsed.result == "approved"
    assert set(parsed.images) == {"front_document", "back_document", "face_image", "best_frame"}
    assert all(image[:2] == b"\xff\xd8" for image in parsed.images.values())
    assert parsed.full_name == "AHMAD BIN ABDULLAH"
    assert parsed.id_number == "901231145671"
    assert parsed.id_number_back == "901231145671-04-01"
    assert parsed.gender == "LELAKI"
    assert parsed.nationality == "WARGANEGARA"
    assert str(parsed.face_match_score) == "95.12"
    assert parsed.document_valid is True


def test_get_status_of_a_new_transaction(client):
    data = create_transaction(client)
    body = answer(post_envelope(client, STATUS_URL, status_payload(data["ref_id"], data["onboarding_id"], mode=1)))
    assert body["status"] == 0 and body["result"] is None
    assert parse_result(body).status == "pending"


def test_get_status_expires_overdue_transactions(client, settings):
    settings.SANDBOX_CALLBACK_URL_PREFIX = "http://127.0.0.1:9"
    data = create_transaction(client)
    SandboxTransaction.objects.update(expired_at=timezone.now() - timedelta(seconds=1))
    body = answer(post_envelope(client, STATUS_URL, status_payload(data["ref_id"], data["onboarding_id"])))
    assert body["status"] == 3
    assert "front_document_image" not in body
    assert parse_result(body).status == "expired"


def test_passport_transaction(client):
    data = create_transaction(client, document_type="3", document_number="A12345678", ref_id="P1")
    txn = SandboxTransaction.objects.get(onboarding_id=data["onboarding_id"])
    txn.status, txn.result, txn.finished_at = 2, "0", timezone.now()
    txn.reject_message = "OCR failed"
    txn.save()
    body = answer(post_envelope(client, STATUS_URL, status_payload(data["ref_id"], data["onboarding_id"], mode=1)))
    parsed = parse_result(body, document_type="2")
    assert parsed.result == "rejected"
    assert parsed.reject_message == "OCR failed"
    assert parsed.date_of_birth is None
    assert parsed.face_match is False
    assert str(parsed.face_match_score) == "41.30"
