"""Generic HTTP errors of the client API answer the JSON envelope, never HTML."""

import uuid

import pytest

pytestmark = pytest.mark.django_db


def _envelope(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "message"} and body["error"] == code and body["message"]
    return body


def test_oversize_body_is_413_before_authentication(anon_api, settings):
    body = b'{"document_name": "' + b"x" * (settings.API_MAX_BODY_BYTES + 1) + b'"}'
    response = anon_api.post("/api/v1/kyc/sessions", body, content_type="application/json")
    assert _envelope(response, 413, "PAYLOAD_TOO_LARGE")["message"] == "Request body exceeds 65536 bytes"


def test_oversize_body_on_refresh_is_413(api, settings):
    settings.API_MAX_BODY_BYTES = 100
    response = api.post(f"/api/v1/kyc/sessions/{uuid.uuid4()}", b"x" * 101, content_type="application/json")
    assert _envelope(response, 413, "PAYLOAD_TOO_LARGE")["message"] == "Request body exceeds 100 bytes"


@pytest.mark.parametrize(
    "method, path",
    [
        ("put", "/api/v1/kyc/sessions"),
        ("delete", "/api/v1/kyc/sessions"),
        ("patch", "/api/v1/kyc/sessions/550e8400-e29b-41d4-a716-446655440000"),
        ("delete", "/api/v1/kyc/sessions/550e8400-e29b-41d4-a716-446655440000"),
        ("post", "/api/v1/kyc/sessions/550e8400-e29b-41d4-a716-446655440000/documents/face_image"),
    ],
)
def test_wrong_method_is_405(api, method, path):
    response = getattr(api, method)(path)
    assert _envelope(response, 405, "METHOD_NOT_ALLOWED")["message"] == f'Method "{method.upper()}" not allowed.'
    assert "X-RateLimit-Remaining" in response


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_body_that_is_not_json_is_415(api, content_type):
    response = api.post("/api/v1/kyc/sessions", "document_name=x", content_type=content_type)
    assert _envelope(response, 415, "UNSUPPORTED_MEDIA_TYPE")["message"] == "Content-Type must be application/json"


def test_malformed_json_is_400(api):
    response = api.post("/api/v1/kyc/sessions", "{not json", content_type="application/json")
    assert _envelope(response, 400, "BAD_REQUEST")["message"] == "Request body must be valid JSON"


def test_unknown_api_path_is_json_404(api):
    _envelope(api.get("/api/v1/nothing-here"), 404, "NOT_FOUND")


def test_bad_key_is_401_with_bearer_challenge(anon_api):
    anon_api.credentials(HTTP_AUTHORIZATION="Bearer ts_live_not-a-real-key")
    response = anon_api.get("/api/v1/kyc/sessions")
    assert _envelope(response, 401, "UNAUTHORIZED")["message"] == "Invalid API key"
    assert response["WWW-Authenticate"].startswith("Bearer")
