import base64
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from kyc.innovatif import crypto
from kyc.innovatif.crypto import EnvelopeError

VECTORS = json.loads((Path(__file__).resolve().parent.parent / "fixtures" / "innovatif" / "vectors.json").read_text())
CREDS = VECTORS["credentials"]
ENCRYPT_CASES = VECTORS["encrypt"] + VECTORS["hand_computed"]["encrypt"]
SIGNATURE_CASES = VECTORS["signature"] + VECTORS["hand_computed"]["signature"]


def test_aes_key_and_iv_match_the_fixture():
    key = crypto.aes_key(CREDS["api_key"], CREDS["ciphertext"])
    assert key == VECTORS["aes"]["key_utf8"].encode()
    assert key.hex() == VECTORS["hand_computed"]["aes_key_hex"]
    assert CREDS["ciphertext"].encode().hex() == VECTORS["hand_computed"]["aes_iv_hex"]
    assert VECTORS["aes"]["iv_utf8"] == CREDS["ciphertext"]


@pytest.mark.parametrize("case", ENCRYPT_CASES, ids=lambda c: c["plaintext"][:20])
def test_encrypt_reproduces_vectors(case):
    assert crypto.encrypt(case["plaintext"], api_key=CREDS["api_key"], ciphertext=CREDS["ciphertext"]) == case["base64"]
    assert (
        crypto.encrypt(case["plaintext"].encode(), api_key=CREDS["api_key"], ciphertext=CREDS["ciphertext"])
        == case["base64"]
    )


@pytest.mark.parametrize("case", ENCRYPT_CASES, ids=lambda c: c["plaintext"][:20])
def test_decrypt_reproduces_vectors(case):
    assert crypto.decrypt(case["base64"], api_key=CREDS["api_key"], ciphertext=CREDS["ciphertext"]) == case["plaintext"]


@pytest.mark.parametrize("case", SIGNATURE_CASES, ids=lambda c: c["ref_id"])
def test_signature_reproduces_vectors(case):
    signature = crypto.sign(
        api_key=CREDS["api_key"],
        md5_key=CREDS["md5_key"],
        package_name=CREDS["package_name"],
        ref_id=case["ref_id"],
        request_time=case["request_time"],
    )
    assert signature == case["signature"]
    # base64 of the 32-char hex digest, not of the 16 raw bytes
    assert re.fullmatch(r"[0-9a-f]{32}", base64.b64decode(signature).decode())


def test_round_trip_of_unicode_and_long_payloads():
    for text in [
        "",
        "a",
        "x" * 15,
        "y" * 16,
        "z" * 17,
        "Nurul Ain binti Ab. Rahman \u00e9\u4e2d",
        json.dumps({"k": "v" * 5000}),
    ]:
        sealed = crypto.encrypt(text, api_key=CREDS["api_key"], ciphertext=CREDS["ciphertext"])
        assert crypto.decrypt(sealed, api_key=CREDS["api_key"], ciphertext=CREDS["ciphertext"]) == text


@pytest.mark.parametrize(
    "data",
    [
        "not base64 !!!",
        "",
        base64.b64encode(b"short").decode(),
        base64.b64encode(b"\x00" * 16).decode(),  # decrypts to bad padding
        123,
    ],
)
def test_decrypt_rejects_garbage(data):
    with pytest.raises(EnvelopeError):
        crypto.decrypt(data, api_key=CREDS["api_key"], ciphertext=CREDS["ciphertext"])


def test_decrypt_with_wrong_key_fails_or_differs():
    sealed = crypto.encrypt('{"a":1}', api_key=CREDS["api_key"], ciphertext=CREDS["ciphertext"])
    try:
        plain = crypto.decrypt(sealed, api_key="OTHERapikey0123456789abcdefXYZ00", ciphertext=CREDS["ciphertext"])
    except EnvelopeError:
        return
    assert plain != '{"a":1}'


def test_decrypt_rejects_non_utf8_plaintext():
    sealed = crypto.encrypt(b"\xff\xfe\xfd", api_key=CREDS["api_key"], ciphertext=CREDS["ciphertext"])
    with pytest.raises(EnvelopeError):
        crypto.decrypt(sealed, api_key=CREDS["api_key"], ciphertext=CREDS["ciphertext"])


def test_short_key_material_is_refused():
    with pytest.raises(EnvelopeError):
        crypto.aes_key("short", "MTIzNDU2Nzg5MDEy")
    with pytest.raises(EnvelopeError):
        crypto.encrypt("x", api_key=CREDS["api_key"], ciphertext="MTIz")


def test_request_time_now_is_kuala_lumpur_time():
    value = crypto.request_time_now()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", value)
    parsed = datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
    myt_now = datetime.now(timezone(timedelta(hours=8))).replace(tzinfo=None)
    assert abs((myt_now - parsed).total_seconds()) < 5


def test_seal_and_open_envelope():
    from tests.innovatif.helpers import sandbox_credentials

    credentials = sandbox_credentials()
    envelope = crypto.seal({"ref_id": "R1", "name": "\u00c9lise"}, credentials)
    assert set(envelope) == {"api_key", "data"}
    assert envelope["api_key"] == credentials.api_key
    assert crypto.open_envelope(envelope, credentials) == {"ref_id": "R1", "name": "\u00c9lise"}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"data": 5},
        {"data": "%%%"},
        {"data": crypto.encrypt("not json", api_key=CREDS["api_key"], ciphertext=CREDS["ciphertext"])},
        {"data": crypto.encrypt("[1, 2]", api_key=CREDS["api_key"], ciphertext=CREDS["ciphertext"])},
        "string",
    ],
)
def test_open_envelope_rejects_bad_bodies(body):
    from tests.innovatif.helpers import sandbox_credentials

    with pytest.raises(EnvelopeError):
        crypto.open_envelope(body, sandbox_credentials())
