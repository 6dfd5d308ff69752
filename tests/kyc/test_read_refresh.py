import uuid

import pytest
import requests

from clients.models import ApiKey
from kyc.models import KycSession

from .helpers import create_session, sandbox_complete
from .test_create import assert_error

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def created(api, funded, provider, valid_body):
    body = create_session(api, valid_body)
    return KycSession.objects.get(pk=body["id"])


def test_get_pending_session_shape(api, created):
    body = api.get(f"/api/v1/kyc/sessions/{created.id}").json()
    assert body["id"] == str(created.id)
    assert body["status"] == "pending" and body["result"] is None
    assert body["document_name"] == "Ahmad bin Abdullah"
    assert body["document_number"] == "901234-56-7890"
    assert body["document_type"] == "1"
    assert body["metadata"] == {"user_id": "usr_12345"}
    assert body["created_at"].endswith("Z") and body["updated_at"].endswith("Z")
    assert "ocr_result" not in body and "documents" not in body


def test_get_completed_session_has_ocr_and_documents(api, created):
    sandbox_complete(created, outcome="approved")
    body = api.get(f"/api/v1/kyc/sessions/{created.id}").json()
    assert body["status"] == "completed" and body["result"] == "approved"
    assert body["ocr_result"]["name"] == "AHMAD BIN ABDULLAH"
    assert body["ocr_result"]["id_number"] == "901234567890"
    assert body["ocr_result"]["address"]
    for kind in KycSession.DOCUMENT_KINDS:
        assert body["documents"][kind].endswith(f"/api/v1/kyc/sessions/{created.id}/documents/{kind}")


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "123", str(uuid.uuid4())])
def test_get_unknown_or_malformed_id_is_404(api, bad_id):
    assert_error(api.get(f"/api/v1/kyc/sessions/{bad_id}"), 404, "NOT_FOUND")
    assert_error(api.post(f"/api/v1/kyc/sessions/{bad_id}"), 404, "NOT_FOUND")


def test_other_clients_session_is_404(created, make_client, make_api_key):
    from rest_framework.test import APIClient

    other = make_client(code="OTHER")
    _, raw = make_api_key(other)
    intruder = APIClient()
    intruder.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert_error(intruder.get(f"/api/v1/kyc/sessions/{created.id}"), 404, "NOT_FOUND")
    assert_error(intruder.post(f"/api/v1/kyc/sessions/{created.id}"), 404, "NOT_FOUND")
    for kind in KycSession.DOCUMENT_KINDS:
        assert_error(intruder.get(f"/api/v1/kyc/sessions/{created.id}/documents/{kind}"), 404, "NOT_FOUND")


def test_refresh_pending_from_provider(api, created):
    body = api.post(f"/api/v1/kyc/sessions/{created.id}").json()
    assert body["refreshed"] is True
    assert body["status"] == "pending" and body["result"] is None
    assert body["ref_id"] == created.ref_id
    assert body["_raw"]["innovatif_status"] == "0"


def test_refresh_after_lost_callback_completes_with_everything(api, created):
    sandbox_complete(created, outcome="approved", send_callback=False)
    assert KycSession.objects.get(pk=created.pk).status == "pending"
    body = api.post(f"/api/v1/kyc/sessions/{created.id}").json()
    assert body["refreshed"] is True
    assert body["status"] == "completed" and body["result"] == "approved"
    assert body["reject_message"] is None
    assert body["document"]["full_name"] == "AHMAD BIN ABDULLAH"
    assert body["document"]["id_number"] and body["document"]["id_number_back"]
    assert body["document"]["gender"] in ("LELAKI", "PEREMPUAN")
    verification = body["verification"]
    assert verification["face_match"] is True and verification["liveness_passed"] is True
    assert 0 < verification["face_match_score"] <= 100
    assert set(verification) == {
        "document_valid",
        "name_match",
        "id_match",
        "front_back_match",
        "landmark_valid",
        "face_match",
        "face_match_score",
        "liveness_passed",
    }
    assert body["_raw"]["innovatif_status"] == "2" and "step1" in body["_raw"] and "step2" in body["_raw"]
    assert "front_document_image" not in str(body["_raw"])
    for kind in KycSession.DOCUMENT_KINDS:
        image = requests.get(body["images"][kind], timeout=10)
        assert image.status_code == 200 and image.content[:2] == b"\xff\xd8"


def test_refresh_rejected_carries_reason(api, created):
    sandbox_complete(created, outcome="rejected", reject_message="Document appears tampered", send_callback=False)
    body = api.post(f"/api/v1/kyc/sessions/{created.id}").json()
    assert body["status"] == "completed" and body["result"] == "rejected"
    assert body["reject_message"] == "Document appears tampered"


def test_refresh_finalized_session(api, created):
    sandbox_complete(created, outcome="approved")
    body = api.post(f"/api/v1/kyc/sessions/{created.id}").json()
    assert body["refreshed"] is False
    assert body["message"] == "Session already finalized"
    assert body["status"] == "completed" and body["result"] == "approved"
    assert body["document"]["full_name"] == "AHMAD BIN ABDULLAH"
    assert body["verification"]["face_match"] is True
    assert requests.get(body["images"]["front_document"], timeout=10).status_code == 200
    assert "_raw" not in body


def test_refresh_provider_unreachable(api, created, provider_down):
    response = api.post(f"/api/v1/kyc/sessions/{created.id}")
    assert response.status_code == 200
    assert response.json() == {
        "id": str(created.id),
        "ref_id": created.ref_id,
        "status": "pending",
        "result": None,
        "reject_message": None,
        "refreshed": False,
        "error": "Failed to fetch status from provider",
    }


def test_signed_image_urls_reject_tampering(api, created):
    sandbox_complete(created, outcome="approved")
    url = api.post(f"/api/v1/kyc/sessions/{created.id}").json()["images"]["face_image"]
    assert requests.get(url + "x", timeout=10).status_code == 404


def test_document_endpoint(api, created):
    for kind in KycSession.DOCUMENT_KINDS:
        assert_error(api.get(f"/api/v1/kyc/sessions/{created.id}/documents/{kind}"), 404, "NOT_FOUND")
    sandbox_complete(created, outcome="approved")
    for kind in KycSession.DOCUMENT_KINDS:
        response = api.get(f"/api/v1/kyc/sessions/{created.id}/documents/{kind}")
        assert response.status_code == 200
        assert response["Content-Type"] == "image/jpeg"
        assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"
    assert_error(api.get(f"/api/v1/kyc/sessions/{created.id}/documents/selfie"), 404, "NOT_FOUND")


def test_document_endpoint_requires_key(anon_api, created):
    assert_error(anon_api.get(f"/api/v1/kyc/sessions/{created.id}/documents/front_document"), 401, "UNAUTHORIZED")


def test_images_are_stored_under_a_private_per_client_path(api, created):
    sandbox_complete(created, outcome="approved")
    session = KycSession.objects.get(pk=created.pk)
    assert session.front_document.startswith(f"kyc/{session.client_id}/{session.id}/")


def test_get_query_count_is_pinned(api, created, django_assert_num_queries):
    api.get(f"/api/v1/kyc/sessions/{created.id}")
    with django_assert_num_queries(2):
        api.get(f"/api/v1/kyc/sessions/{created.id}")


def test_test_key_uses_sandbox_even_when_live_provider_is_elsewhere(test_api, acme, provider, settings, valid_body):
    settings.INNOVATIF_BASE_URL = "http://127.0.0.1:9/v1/gateway"
    body = create_session(test_api, valid_body)
    assert KycSession.objects.get(pk=body["id"]).api_key.environment == ApiKey.Environment.TEST


_VERIFICATION_KEYS = {
    "document_valid",
    "name_match",
    "id_match",
    "front_back_match",
    "landmark_valid",
    "face_match",
    "face_match_score",
    "liveness_passed",
}


def test_get_pending_session_has_no_reject_message_or_verification(api, created):
    body = api.get(f"/api/v1/kyc/sessions/{created.id}").json()
    assert "reject_message" not in body and "verification" not in body


@pytest.mark.parametrize(
    "outcome, reject_message", [("approved", None), ("rejected", "Face does not match the document photo")]
)
def test_get_completed_session_matches_refresh(api, created, outcome, reject_message):
    sandbox_complete(created, outcome=outcome, reject_message=reject_message)
    got = api.get(f"/api/v1/kyc/sessions/{created.id}").json()
    refreshed = api.post(f"/api/v1/kyc/sessions/{created.id}").json()
    assert got["result"] == outcome
    assert got["reject_message"] == refreshed["reject_message"] == reject_message
    assert set(got["verification"]) == _VERIFICATION_KEYS
    assert got["verification"] == refreshed["verification"]
    assert 0 < got["verification"]["face_match_score"] <= 100


def test_get_completed_query_count_is_unchanged(api, created, django_assert_num_queries):
    sandbox_complete(created, outcome="rejected")
    api.get(f"/api/v1/kyc/sessions/{created.id}")
    with django_assert_num_queries(2):
        body = api.get(f"/api/v1/kyc/sessions/{created.id}").json()
    assert "verification" in body and "reject_message" in body


def test_listing_items_stay_summaries(api, created):
    sandbox_complete(created, outcome="rejected")
    item = api.get("/api/v1/kyc/sessions").json()["results"][0]
    assert "verification" not in item and "reject_message" not in item
