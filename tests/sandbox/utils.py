import json

from kyc.innovatif.crypto import open_envelope, request_time_now, seal
from tests.innovatif.helpers import sandbox_credentials

CREATE_URL = "/sandbox/innovatif/v1/gateway/create-transaction"
STATUS_URL = "/sandbox/innovatif/v1/gateway/get-status"


def create_payload(ref_id="ACME_m1x2y3z4_0a1b2c3d", credentials=None, **overrides):
    credentials = credentials or sandbox_credentials()
    request_time = request_time_now()
    payload = {
        "api_key": credentials.api_key,
        "package_name": credentials.package_name,
        "ref_id": ref_id,
        "document_name": "Ahmad bin Abdullah",
        "document_number": "901231145671",
        "document_type": "1",
        "platform": "Web",
        "signature": credentials.sign(ref_id=ref_id, request_time=request_time),
        "response_url": "https://client.example/done?x=1",
        "backend_url": "",
        "callback_mode": "2",
        "response_mode": "1",
        "request_time": request_time,
    }
    payload.update(overrides)
    return payload


def status_payload(ref_id, onboarding_id, credentials=None, mode=2, **overrides):
    credentials = credentials or sandbox_credentials()
    request_time = request_time_now()
    payload = {
        "api_key": credentials.api_key,
        "package_name": credentials.package_name,
        "ref_id": ref_id,
        "onboarding_id": onboarding_id,
        "platform": "Web",
        "signature": credentials.sign(ref_id=ref_id, request_time=request_time),
        "request_time": request_time,
        "mode": mode,
    }
    payload.update(overrides)
    return payload


def post_envelope(client, url, payload, credentials=None):
    envelope = seal(payload, credentials or sandbox_credentials())
    return client.post(url, data=json.dumps(envelope), content_type="application/json")


def answer(response, credentials=None) -> dict:
    """The decrypted data of a success answer, or the error body."""
    body = response.json()
    if body.get("success") is True:
        return open_envelope(body, credentials or sandbox_credentials())
    return body


def create_transaction(client, **overrides) -> dict:
    response = post_envelope(client, CREATE_URL, create_payload(**overrides))
    assert response.status_code == 200
    data = answer(response)
    assert "onboarding_id" in data, data
    return data
