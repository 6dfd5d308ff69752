import logging

import pytest
import requests

from kyc.innovatif import client as client_module
from kyc.innovatif.client import (
    CreateTransactionResult,
    InnovatifClient,
    InnovatifError,
    InnovatifRequestError,
    InnovatifUnavailable,
    client_for,
)
from kyc.innovatif.credentials import Credentials, credentials_for_api_key, credentials_live, credentials_sandbox
from kyc.innovatif.crypto import open_envelope, seal, sign
from sandbox.models import SandboxTransaction
from tests.innovatif.helpers import canned_session, sandbox_credentials


def create(client, ref_id="ACME_m1x2y3z4_0a1b2c3d", **overrides):
    kwargs = dict(
        ref_id=ref_id,
        document_name="Ahmad bin Abdullah",
        document_number="901231145671",
        document_type="1",
        platform="Web",
        response_url="https://client.example/done",
        backend_url="http://127.0.0.1:9/cb",
    )
    kwargs.update(overrides)
    return client.create_transaction(**kwargs)


def sandbox_client(settings, credentials=None, base_url=None):
    return InnovatifClient(
        base_url or settings.SANDBOX_BASE_URL,
        credentials or sandbox_credentials(),
        connect_timeout=2,
        read_timeout=5,
        http=requests.Session(),
    )


# --- credentials ------------------------------------------------------------------


def test_credentials_repr_hides_secrets():
    credentials = Credentials(api_key="K" * 32, md5_key="M" * 32, package_name="pkg.name", ciphertext="C" * 16)
    for text in (
        repr(credentials),
        str(credentials),
        f"{credentials}",
        repr(InnovatifClient("http://x", credentials, connect_timeout=1, read_timeout=1)),
    ):
        assert "K" * 8 not in text and "M" * 8 not in text and "C" * 8 not in text
        assert "pkg.name" in text


def test_credentials_from_settings_at_call_time(settings):
    settings.INNOVATIF_API_KEY = "L" * 32
    settings.INNOVATIF_MD5_KEY = "l" * 32
    settings.INNOVATIF_PACKAGE_NAME = "live.pkg"
    settings.SANDBOX_API_KEY = "S" * 32
    settings.SANDBOX_PACKAGE_NAME = "sandbox.pkg"
    assert credentials_live() == Credentials("L" * 32, "l" * 32, "live.pkg", settings.INNOVATIF_CIPHERTEXT)
    assert credentials_sandbox().package_name == "sandbox.pkg"
    assert credentials_for_api_key("L" * 32).package_name == "live.pkg"
    assert credentials_for_api_key("S" * 32).package_name == "sandbox.pkg"
    assert credentials_for_api_key("X" * 32) is None
    assert credentials_for_api_key("") is None
    assert credentials_for_api_key(None) is None
    settings.SANDBOX_ENABLED = False
    assert credentials_for_api_key("S" * 32) is None
    assert credentials_for_api_key("L" * 32).package_name == "live.pkg"


def test_client_for_routes_test_sessions_to_the_sandbox(settings):
    settings.INNOVATIF_BASE_URL = "https://provider.example/v1/gateway"
    settings.SANDBOX_BASE_URL = "http://localhost:3001/sandbox/innovatif/v1/gateway"
    settings.INNOVATIF_API_KEY = "L" * 32
    settings.SANDBOX_API_KEY = "S" * 32
    settings.INNOVATIF_CONNECT_TIMEOUT = 1.5
    settings.INNOVATIF_READ_TIMEOUT = 7.0
    test_client = client_for(is_test=True)
    live_client = client_for(is_test=False)
    assert test_client.base_url == settings.SANDBOX_BASE_URL
    assert test_client.credentials.api_key == "S" * 32
    assert live_client.base_url == "https://provider.example/v1/gateway"
    assert live_client.credentials.api_key == "L" * 32
    assert live_client.timeout == (1.5, 7.0)
    # one keep-alive session per process
    assert test_client.http is live_client.http


# --- against the sandbox over real HTTP ---------------------------------------------


def test_create_and_get_status_round_trip(sandbox_env):
    client = client_for(is_test=True)
    created = create(client)
    assert isinstance(created, CreateTransactionResult)
    assert created.ref_id == "truestack_gateway_sandboxACME_m1x2y3z4_0a1b2c3d"
    assert (
        created.onboarding_url == f"{sandbox_env.PUBLIC_BASE_URL}/sandbox/innovatif/onboarding/{created.onboarding_id}"
    )
    assert len(created.expired_at) == 19
    txn = SandboxTransaction.objects.get(onboarding_id=created.onboarding_id)
    assert txn.ref_id == "ACME_m1x2y3z4_0a1b2c3d"
    assert txn.document_type == "1"

    body = client.get_status(ref_id=created.ref_id, onboarding_id=created.onboarding_id, platform="Web", mode="1")
    assert body["status"] == 0
    assert body["ref_id"] == created.ref_id
    assert body["signature"] == sign(
        api_key=client.credentials.api_key,
        md5_key=client.credentials.md5_key,
        package_name=client.credentials.package_name,
        ref_id=created.ref_id,
        request_time=body["request_time"],
    )


@pytest.mark.parametrize(
    ("credentials", "code"),
    [
        (
            Credentials(
                "WRONGapikey0123456789abcdefXYZ00",
                "SANDBOXmd5key0123456789abcdefXYZ",
                "truestack.gateway.sandbox",
                "MTIzNDU2Nzg5MDEy",
            ),
            "101",
        ),
        (
            Credentials(
                "SANDBOXapikey0123456789abcdefXYZ",
                "SANDBOXmd5key0123456789abcdefXYZ",
                "other.package",
                "MTIzNDU2Nzg5MDEy",
            ),
            "102",
        ),
        (
            Credentials(
                "SANDBOXapikey0123456789abcdefXYZ",
                "WRONGmd5key0123456789abcdefXYZ00",
                "truestack.gateway.sandbox",
                "MTIzNDU2Nzg5MDEy",
            ),
            "104",
        ),
        (
            Credentials(
                "SANDBOXapikey0123456789abcdefXYZ",
                "SANDBOXmd5key0123456789abcdefXYZ",
                "truestack.gateway.sandbox",
                "ABCDEFGHIJKLMNOP",
            ),
            "400",
        ),
    ],
)
def test_sandbox_refusals_map_to_request_errors(sandbox_env, credentials, code):
    with pytest.raises(InnovatifRequestError) as info:
        create(sandbox_client(sandbox_env, credentials))
    assert info.value.code == code
    assert info.value.description


def test_missing_parameter_and_unknown_ref(sandbox_env):
    client = sandbox_client(sandbox_env)
    with pytest.raises(InnovatifRequestError) as info:
        create(client, document_name="")
    assert info.value.code == "100"
    assert "document_name" in info.value.description
    with pytest.raises(InnovatifRequestError) as info:
        client.get_status(ref_id="truestack_gateway_sandboxNOPE", onboarding_id="nope", platform="Web")
    assert info.value.code == "103"
    created = create(client)
    with pytest.raises(InnovatifRequestError) as info:
        create(client)  # same ref_id twice
    assert info.value.code == "103"
    # get-status is signed over the prefixed ref id; the unprefixed one is unknown
    with pytest.raises(InnovatifRequestError) as info:
        client.get_status(ref_id="ACME_m1x2y3z4_0a1b2c3d", onboarding_id=created.onboarding_id, platform="Web")
    assert info.value.code == "103"


def test_failure_rate_one_is_unavailable(sandbox_env):
    sandbox_env.SANDBOX_FAILURE_RATE = 1.0
    with pytest.raises(InnovatifUnavailable) as info:
        create(sandbox_client(sandbox_env))
    assert info.value.code == "105"
    assert SandboxTransaction.objects.count() == 0


def test_refuse_connections_is_unavailable(sandbox_env):
    sandbox_env.SANDBOX_REFUSE_CONNECTIONS = True
    with pytest.raises(InnovatifUnavailable) as info:
        create(sandbox_client(sandbox_env))
    assert info.value.code == "503"


def test_latency_knob_delays_but_succeeds(sandbox_env):
    import time

    sandbox_env.SANDBOX_LATENCY_MS = 50
    started = time.monotonic()
    create(sandbox_client(sandbox_env))
    assert time.monotonic() - started >= 0.05


def test_read_timeout_is_unavailable(sandbox_env):
    sandbox_env.SANDBOX_LATENCY_MS = 400
    client = InnovatifClient(
        sandbox_env.SANDBOX_BASE_URL,
        sandbox_credentials(),
        connect_timeout=1,
        read_timeout=0.1,
        http=requests.Session(),
    )
    with pytest.raises(InnovatifUnavailable) as info:
        create(client)
    assert info.value.code == "timeout"


def test_closed_port_is_unavailable():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = InnovatifClient(
        f"http://127.0.0.1:{port}/v1/gateway",
        sandbox_credentials(),
        connect_timeout=1,
        read_timeout=1,
        http=requests.Session(),
    )
    with pytest.raises(InnovatifUnavailable) as info:
        create(client)
    assert info.value.code == "connection"


# --- answer shapes (canned far side) ----------------------------------------------------


def canned_client(*answers):
    session, adapter = canned_session(*answers)
    return InnovatifClient(
        "https://provider.example/v1/gateway", sandbox_credentials(), connect_timeout=1, read_timeout=1, http=session
    ), adapter


def test_request_is_a_signed_envelope():
    credentials = sandbox_credentials()
    answer = {
        "success": True,
        "data": seal(
            {
                "onboarding_id": "OB1",
                "onboarding_url": "https://u",
                "expired_at": "2026-01-28 15:00:00",
                "ref_id": "pfxR1",
            },
            credentials,
        )["data"],
    }
    client, adapter = canned_client((200, answer))
    result = create(client, ref_id="R1")
    assert result == CreateTransactionResult("OB1", "https://u", "2026-01-28 15:00:00", "pfxR1")
    import json

    sent = json.loads(adapter.sent[0].body)
    assert adapter.sent[0].url == "https://provider.example/v1/gateway/create-transaction"
    assert sent["api_key"] == credentials.api_key
    inner = open_envelope(sent, credentials)
    assert inner["ref_id"] == "R1"
    assert inner["package_name"] == credentials.package_name
    assert inner["callback_mode"] == "2" and inner["response_mode"] == "1"
    assert inner["signature"] == credentials.sign(ref_id="R1", request_time=inner["request_time"])


@pytest.mark.parametrize(
    ("answer", "error", "code"),
    [
        ((200, {"success": False, "data": {"message": "Invalid API Key"}}), InnovatifRequestError, "101"),
        ((200, {"success": False, "data": {"message": "Something odd"}}), InnovatifRequestError, "unknown"),
        ((200, {"success": False, "data": {"message": "x", "error_code": "102"}}), InnovatifRequestError, "102"),
        (
            (200, {"message": "Failed", "error_code": "103", "description": "Invalid Ref ID"}),
            InnovatifRequestError,
            "103",
        ),
        ((200, {"message": "Failed", "error_code": 104}), InnovatifRequestError, "104"),
        ((200, {"message": "Failed", "error_code": "105"}), InnovatifUnavailable, "105"),
        ((200, {"message": "Failed", "error_code": "401"}), InnovatifRequestError, "401"),
        ((200, {"message": "Failed", "error_code": "999"}), InnovatifRequestError, "999"),
        ((200, {"message": "Failed", "error_code": "500"}), InnovatifUnavailable, "500"),
        ((200, {"success": True, "data": "not-encrypted-garbage"}), InnovatifUnavailable, "bad_answer"),
        ((200, "<html>oops</html>"), InnovatifUnavailable, "bad_answer"),
        ((200, [1, 2]), InnovatifUnavailable, "bad_answer"),
        ((200, {"success": True}), InnovatifUnavailable, "bad_answer"),
        ((502, "bad gateway"), InnovatifUnavailable, "502"),
        ((503, ""), InnovatifUnavailable, "503"),
        ((429, ""), InnovatifUnavailable, "429"),
        ((404, "<html>not found</html>"), InnovatifRequestError, "404"),
        (requests.ConnectTimeout("t"), InnovatifUnavailable, "timeout"),
        (requests.ConnectionError("refused"), InnovatifUnavailable, "connection"),
    ],
)
def test_answer_shapes(answer, error, code):
    client, _ = canned_client(answer)
    with pytest.raises(error) as info:
        client.get_status(ref_id="pfxR1", onboarding_id="OB1", platform="Web")
    assert info.value.code == code
    assert isinstance(info.value, InnovatifError)
    assert info.value.description


def test_encrypted_error_answer_is_mapped():
    credentials = sandbox_credentials()
    answer = {
        "success": True,
        "data": seal({"message": "Failed", "error_code": "104", "description": "Invalid Security Token"}, credentials)[
            "data"
        ],
    }
    client, _ = canned_client((200, answer))
    with pytest.raises(InnovatifRequestError) as info:
        client.get_status(ref_id="pfxR1", onboarding_id="OB1", platform="Web")
    assert info.value.code == "104"


def test_success_with_error_code_zero_is_not_an_error():
    credentials = sandbox_credentials()
    answer = {"success": True, "data": seal({"status": 1, "error_code": "0"}, credentials)["data"]}
    client, _ = canned_client((200, answer))
    assert client.get_status(ref_id="pfxR1", onboarding_id="OB1", platform="Web")["status"] == 1


def test_create_answer_without_url_is_unavailable():
    credentials = sandbox_credentials()
    client, _ = canned_client((200, {"success": True, "data": seal({"ref_id": "x"}, credentials)["data"]}))
    with pytest.raises(InnovatifUnavailable):
        create(client)


def test_every_documented_code_has_a_description():
    for code in ("100", "101", "102", "103", "104", "105", "400", "401"):
        error = client_module.error_for_code(code)
        assert error.description != "Unknown provider error"
        assert isinstance(error, InnovatifUnavailable if code == "105" else InnovatifRequestError)


def test_logs_carry_no_secrets_or_data(caplog):
    credentials = sandbox_credentials()
    answer = {
        "success": True,
        "data": seal({"status": 2, "step1": {"ocr_result": {"full_name": "SECRET NAME"}}}, credentials)["data"],
    }
    client, _ = canned_client((200, answer), (200, {"message": "Failed", "error_code": "104"}))
    with caplog.at_level(logging.DEBUG, logger="kyc.innovatif"):
        client.get_status(ref_id="pfxR1", onboarding_id="OB1", platform="Web")
        with pytest.raises(InnovatifRequestError):
            client.get_status(ref_id="pfxR1", onboarding_id="OB1", platform="Web")
    text = caplog.text
    assert "pfxR1" in text and "get-status" in text and "104" in text
    for secret in (
        credentials.api_key,
        credentials.md5_key,
        credentials.ciphertext,
        "SECRET NAME",
        answer["data"][:20],
    ):
        assert secret not in text


def test_end_to_end_over_http(sandbox_env, recorder):
    """Client -> sandbox -> onboarding page -> /complete -> callback -> get-status."""
    from kyc.innovatif.callback_body import parse_callback
    from kyc.innovatif.mapping import DOCUMENT_TYPE_TO_PROVIDER, parse_result

    client = client_for(is_test=True)
    created = create(
        client,
        ref_id="E2E_1",
        document_type=DOCUMENT_TYPE_TO_PROVIDER["1"],
        backend_url=f"{recorder.url}/api/internal/webhooks/innovatif/ekyc",
    )
    page = requests.get(created.onboarding_url, timeout=5)
    assert page.status_code == 200 and "SPECIMEN" in page.text
    done = requests.post(f"{created.onboarding_url}/complete", json={"outcome": "approved", "callbacks": 2}, timeout=10)
    assert done.status_code == 200 and done.json()["status"] == 2
    assert done.json()["callback_count"] == 3  # answered after the sends

    callbacks = [parse_callback(body, allow_plaintext=False) for body in recorder.bodies]
    assert [c.status for c in callbacks] == ["1", "2", "2"]
    assert {c.onboarding_id for c in callbacks} == {created.onboarding_id}
    assert parse_result(callbacks[-1].body).result == "approved"

    body = client.get_status(ref_id=created.ref_id, onboarding_id=created.onboarding_id, platform="Web")
    result = parse_result(body)
    assert (result.status, result.result) == ("completed", "approved")
    assert result.full_name == "AHMAD BIN ABDULLAH"
    assert len(result.images) == 4
