import json

import pytest

from kyc.innovatif.callback_body import CallbackBodyInvalid as CallbackRejected
from kyc.innovatif.callback_body import VerifiedCallback, parse_callback
from kyc.innovatif.crypto import encrypt, request_time_now, seal
from kyc.innovatif.mapping import parse_result
from tests.innovatif.helpers import sandbox_credentials

PREFIXED = "truestack_gateway_sandboxACME_m1x2y3z4_0a1b2c3d"


@pytest.fixture(autouse=True)
def _credentials(settings):
    settings.SANDBOX_ENABLED = True
    for name, value in vars(sandbox_credentials()).items():
        setattr(settings, f"SANDBOX_{name.upper()}", value)
    settings.INNOVATIF_API_KEY = "LIVEapikey0123456789abcdefXYZ000"
    settings.INNOVATIF_MD5_KEY = "LIVEmd5key0123456789abcdefXYZ000"
    settings.INNOVATIF_PACKAGE_NAME = "truestack.gateway.live"
    settings.INNOVATIF_CIPHERTEXT = "MTIzNDU2Nzg5MDEy"


def signed_body(credentials=None, **overrides):
    credentials = credentials or sandbox_credentials()
    request_time = request_time_now()
    body = {
        "api_key": credentials.api_key,
        "package_name": credentials.package_name,
        "ref_id": PREFIXED,
        "onboarding_id": "ob123",
        "request_time": request_time,
        "signature": credentials.sign(ref_id=PREFIXED, request_time=request_time),
        "status": 2,
        "result": 1,
        "reject_message": None,
        "step1": {"ocr_result": {"full_name": "AHMAD"}},
        "step2": {"status": True, "is_identical": True, "percentage": "95.12"},
    }
    body.update(overrides)
    return body


def envelope_bytes(body, credentials=None) -> bytes:
    return json.dumps(seal(body, credentials or sandbox_credentials())).encode()


def test_accepts_a_valid_encrypted_callback():
    body = signed_body()
    verified = parse_callback(envelope_bytes(body), allow_plaintext=False)
    assert isinstance(verified, VerifiedCallback)
    assert verified.provider_ref_id == PREFIXED
    assert verified.onboarding_id == "ob123"
    assert verified.status == "2"
    assert verified.credentials == sandbox_credentials()
    assert verified.body == body
    assert parse_result(verified.body).result == "approved"


def test_live_credentials_are_chosen_by_api_key(settings):
    from kyc.innovatif.credentials import credentials_live

    live = credentials_live()
    verified = parse_callback(envelope_bytes(signed_body(live), live), allow_plaintext=False)
    assert verified.credentials == live


def test_sandbox_callbacks_refused_when_sandbox_disabled(settings):
    settings.SANDBOX_ENABLED = False
    with pytest.raises(CallbackRejected, match="unknown api_key"):
        parse_callback(envelope_bytes(signed_body()), allow_plaintext=False)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (json.dumps({"api_key": "NOPEapikey0123456789abcdefXYZ000", "data": "abc"}).encode(), "unknown api_key"),
        (json.dumps({"api_key": "SANDBOXapikey0123456789abcdefXYZ", "data": "%%%"}).encode(), "decrypted"),
        (
            json.dumps(
                {
                    "api_key": "SANDBOXapikey0123456789abcdefXYZ",
                    "data": encrypt("[]", api_key="SANDBOXapikey0123456789abcdefXYZ", ciphertext="MTIzNDU2Nzg5MDEy"),
                }
            ).encode(),
            "decrypted",
        ),
    ],
)
def test_rejects_malformed_bodies(raw, reason):
    with pytest.raises(CallbackRejected, match=reason):
        parse_callback(raw, allow_plaintext=True)


@pytest.mark.parametrize("missing", ["ref_id", "onboarding_id", "request_time", "signature", "status"])
def test_rejects_missing_fields(missing):
    body = signed_body()
    del body[missing]
    with pytest.raises(CallbackRejected, match="missing fields") as info:
        parse_callback(envelope_bytes(body), allow_plaintext=False)
    assert missing in info.value.reason


def test_rejects_bad_signature():
    body = signed_body(signature="ZTcwZDFlN2MyMjVjOWRmYzkyZGM1MDVkNWE0ZTg0NjU=")
    with pytest.raises(CallbackRejected, match="bad signature"):
        parse_callback(envelope_bytes(body), allow_plaintext=False)


def test_signature_is_over_the_prefixed_ref_id():
    credentials = sandbox_credentials()
    body = signed_body()
    body["signature"] = credentials.sign(ref_id="ACME_m1x2y3z4_0a1b2c3d", request_time=body["request_time"])
    with pytest.raises(CallbackRejected, match="bad signature"):
        parse_callback(envelope_bytes(body), allow_plaintext=False)


def test_tampered_ref_id_fails_signature():
    body = signed_body(ref_id="truestack_gateway_sandboxOTHER")
    with pytest.raises(CallbackRejected, match="bad signature"):
        parse_callback(envelope_bytes(body), allow_plaintext=False)


def test_rejects_inner_package_or_key_mismatch():
    with pytest.raises(CallbackRejected, match="package_name"):
        parse_callback(envelope_bytes(signed_body(package_name="other.pkg")), allow_plaintext=False)
    with pytest.raises(CallbackRejected, match="api_key mismatch"):
        parse_callback(envelope_bytes(signed_body(api_key="X" * 32)), allow_plaintext=False)


def test_plaintext_only_when_allowed():
    raw = json.dumps(signed_body()).encode()
    with pytest.raises(CallbackRejected, match="unencrypted"):
        parse_callback(raw, allow_plaintext=False)
    verified = parse_callback(raw, allow_plaintext=True)
    assert verified.provider_ref_id == PREFIXED


def test_plaintext_is_still_signature_checked():
    raw = json.dumps(signed_body(signature="bad")).encode()
    with pytest.raises(CallbackRejected, match="bad signature"):
        parse_callback(raw, allow_plaintext=True)
    body = signed_body()
    del body["api_key"]
    with pytest.raises(CallbackRejected, match="unknown api_key"):
        parse_callback(json.dumps(body).encode(), allow_plaintext=True)


def test_reasons_never_contain_decrypted_data():
    body = signed_body(signature="bad")
    body["step1"]["ocr_result"]["full_name"] = "VERY SECRET PERSON"
    with pytest.raises(CallbackRejected) as info:
        parse_callback(envelope_bytes(body), allow_plaintext=False)
    assert "SECRET" not in str(info.value)
