"""Real answers in states the fuzzer cannot reach (completed sessions, images,
refresh variants) validated against the committed schema, over real HTTP."""

from pathlib import Path

import pytest
import requests
import schemathesis
from django.conf import settings

from billing.services import credit_add
from kyc.models import KycSession
from tests.kyc.helpers import sandbox_complete

pytestmark = pytest.mark.django_db(transaction=True)

SCHEMA = schemathesis.openapi.from_path(Path(settings.BASE_DIR) / "docs" / "openapi.yaml")
SESSIONS = "/api/v1/kyc/sessions"
DETAIL = "/api/v1/kyc/sessions/{session_id}"
DOCUMENT = "/api/v1/kyc/sessions/{session_id}/documents/{kind}"
BODY = {
    "document_name": "Ahmad bin Abdullah",
    "document_number": "901234-56-7890",
    "webhook_url": "https://yourapp.example/webhooks/kyc",
    "metadata": {"user_id": "usr_12345"},
}


@pytest.fixture
def http(provider, acme, acme_key):
    credit_add(client=acme, credits=10_000, description="test funds")
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {acme_key[1]}"
    session.base = provider.url
    yield session
    session.close()


def _conforms(path: str, method: str, response) -> None:
    SCHEMA[path][method].validate_response(response)
    assert "X-RateLimit-Remaining" in response.headers


def test_session_lifecycle_answers_match_the_schema(http):
    created = http.post(http.base + SESSIONS, json=BODY, headers={"Idempotency-Key": "k1"}, timeout=30)
    assert created.status_code == 201
    _conforms(SESSIONS, "POST", created)
    replayed = http.post(http.base + SESSIONS, json=BODY, headers={"Idempotency-Key": "k1"}, timeout=30)
    assert replayed.headers["Idempotent-Replayed"] == "true"
    _conforms(SESSIONS, "POST", replayed)
    session_id = created.json()["id"]
    url = f"{http.base}{SESSIONS}/{session_id}"

    pending = http.get(url, timeout=30)
    _conforms(DETAIL, "GET", pending)
    refreshed_pending = http.post(url, timeout=30)
    assert refreshed_pending.json()["refreshed"] is True
    _conforms(DETAIL, "POST", refreshed_pending)

    sandbox_complete(KycSession.objects.get(pk=session_id), outcome="approved")
    completed = http.get(url, timeout=30)
    assert completed.json()["status"] == "completed" and "documents" in completed.json()
    _conforms(DETAIL, "GET", completed)
    finalized = http.post(url, timeout=30)
    assert finalized.json()["message"] == "Session already finalized"
    _conforms(DETAIL, "POST", finalized)

    for kind in KycSession.DOCUMENT_KINDS:
        image = http.get(f"{url}/documents/{kind}", timeout=30, allow_redirects=False)
        assert image.status_code == 200 and image.headers["Content-Type"] == "image/jpeg"
        _conforms(DOCUMENT, "GET", image)

    listing = http.get(http.base + SESSIONS, params={"limit": 1}, timeout=30)
    assert listing.json()["results"][0]["id"] == session_id
    _conforms(SESSIONS, "GET", listing)


def test_errors_match_the_schema(http, acme):
    _conforms(DETAIL, "GET", http.get(f"{http.base}{SESSIONS}/not-a-uuid", timeout=30))
    _conforms(SESSIONS, "POST", http.post(http.base + SESSIONS, json={}, timeout=30))
    _conforms(
        SESSIONS, "POST", http.post(http.base + SESSIONS, data="x", timeout=30, headers={"Content-Type": "text/plain"})
    )
    acme.max_open_sessions = 0
    acme.save(update_fields=["max_open_sessions"])
    limited = http.post(http.base + SESSIONS, json=BODY, timeout=30)
    assert limited.json()["error"] == "CONCURRENT_SESSION_LIMIT"
    _conforms(SESSIONS, "POST", limited)
    anonymous = requests.get(http.base + SESSIONS, timeout=30)
    SCHEMA[SESSIONS]["GET"].validate_response(anonymous)
