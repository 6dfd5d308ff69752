"""The Python library end to end against a live TrueStack with the sandbox provider."""

import hashlib

import pytest
import requests
import truestack_sdk
from requests.adapters import HTTPAdapter

from kyc.models import KycSession
from tests.kyc.helpers import sandbox_complete

pytestmark = pytest.mark.django_db(transaction=True)

BODY = dict(
    document_name="Ahmad bin Abdullah",
    document_number="901234-56-7890",
    webhook_url="https://yourapp.example/webhooks/kyc",
)


def test_full_lifecycle(make_sdk, test_key):
    ts = make_sdk(test_key)
    created = ts.sessions.create(**BODY, metadata={"user_id": "usr_1"})
    assert created["status"] == "pending"
    assert set(created) >= {"id", "onboarding_url", "expires_at", "status"}

    pending = ts.sessions.get(created["id"])
    assert pending["status"] == "pending" and "documents" not in pending

    sandbox_complete(created["onboarding_url"], outcome="approved")

    detail = ts.sessions.get(created["id"])
    assert detail["status"] == "completed" and detail["result"] == "approved"
    assert detail["metadata"] == {"user_id": "usr_1"}
    assert detail["ocr_result"]["id_number"]

    refreshed = ts.sessions.refresh(created["id"])
    assert refreshed["refreshed"] is False and refreshed["message"] == "Session already finalized"
    assert refreshed["verification"]["face_match_score"] is not None

    listed = list(ts.sessions.list(status="completed"))
    assert [item["id"] for item in listed] == [created["id"]]

    images = ts.documents.download_all(detail)
    assert set(images) == set(truestack_sdk.DOCUMENT_KINDS)
    for kind, data in images.items():
        assert data[:3] == b"\xff\xd8\xff", kind  # JPEG
    # The bytes are the stored image, byte for byte.
    stored = KycSession.objects.get(pk=created["id"]).front_document
    from django.core.files.storage import default_storage

    with default_storage.open(stored, "rb") as handle:
        assert hashlib.sha256(handle.read()).digest() == hashlib.sha256(images["front_document"]).digest()


def test_list_iterates_over_every_page(make_sdk, test_key):
    ts = make_sdk(test_key)
    ids = [ts.sessions.create(**BODY)["id"] for _ in range(5)]
    # Page size 2: three pages, newest first.
    assert [item["id"] for item in ts.sessions.list(limit=2)] == ids[::-1]
    assert list(ts.sessions.list(status="completed", limit=2)) == []


class DropFirstAnswer(HTTPAdapter):
    """Sends the request for real, then loses the first answer, as a dropped
    connection after the server did its work would."""

    def __init__(self):
        super().__init__()
        self.sent = []

    def send(self, request, **kwargs):
        response = super().send(request, **kwargs)
        self.sent.append((request.headers.get("Idempotency-Key"), response.status_code))
        if len(self.sent) == 1:
            raise requests.ConnectionError("connection reset after the request was sent")
        return response


def test_automatic_idempotency_key_deduplicates_a_retried_create(make_sdk, test_key):
    http = requests.Session()
    adapter = DropFirstAnswer()
    http.mount("http://", adapter)
    ts = make_sdk(test_key, session=http)

    created = ts.sessions.create(**BODY)

    assert len(adapter.sent) == 2
    (first_key, first_status), (second_key, second_status) = adapter.sent
    assert first_status == 201 and second_status == 201
    assert first_key and first_key == second_key  # one key for the call and its retry
    assert KycSession.objects.count() == 1
    assert str(KycSession.objects.get().id) == created["id"]
    assert len(ts.sleep) == 1  # one backoff wait before the retry


def test_each_create_call_gets_its_own_key_and_a_given_key_is_used(make_sdk, test_key):
    ts = make_sdk(test_key)
    first = ts.sessions.create(**BODY)
    second = ts.sessions.create(**BODY)
    assert first["id"] != second["id"]
    mine = ts.sessions.create(**BODY, idempotency_key="order-8841-kyc")
    again = ts.sessions.create(**BODY, idempotency_key="order-8841-kyc")
    assert mine == again
    assert KycSession.objects.count() == 3


class Recording(HTTPAdapter):
    def __init__(self):
        super().__init__()
        self.sent = []

    def send(self, request, **kwargs):
        response = super().send(request, **kwargs)
        self.sent.append((request.url, request.headers.get("Authorization"), response.status_code))
        return response


def test_document_redirect_is_followed_without_the_api_key(make_sdk, test_key, monkeypatch):
    """With presigned URLs (S3) the document endpoint answers 302; here the server's
    own signed-link endpoint stands in for the bucket."""
    from kyc import apis

    monkeypatch.setattr(apis, "uses_presigned_urls", lambda: True)
    http = requests.Session()
    recording = Recording()
    http.mount("http://", recording)
    ts = make_sdk(test_key, session=http)
    created = ts.sessions.create(**BODY)
    sandbox_complete(created["onboarding_url"], outcome="approved")

    data = ts.documents.download(created["id"], "face_image")

    document_call, image_call = recording.sent[-2:]
    assert document_call[0].endswith(f"/api/v1/kyc/sessions/{created['id']}/documents/face_image")
    assert document_call[1] == f"Bearer {test_key}" and document_call[2] == 302
    assert "/files/" in image_call[0] and image_call[2] == 200
    assert image_call[1] is None  # the key never goes to the storage URL
    from django.core.files.storage import default_storage

    with default_storage.open(KycSession.objects.get(pk=created["id"]).face_image, "rb") as handle:
        assert handle.read() == data
