import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from billing.models import Hold
from kyc.models import KycSession

from .helpers import create_session

pytestmark = pytest.mark.django_db(transaction=True)


def post(api, body, **extra):
    return api.post("/api/v1/kyc/sessions", body, format="json", **extra)


def assert_error(response, status, code, message=None):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"] == code
    if message is not None:
        assert body["message"] == message
    return body


class TestCreateSuccess:
    def test_answers_201_with_contract_fields(self, api, funded, provider, valid_body):
        before = timezone.now()
        body = create_session(api, valid_body)
        assert set(body) == {"id", "onboarding_url", "expires_at", "status"}
        assert body["status"] == "pending"
        uuid.UUID(body["id"])
        assert body["onboarding_url"].startswith(f"{provider.url}/sandbox/innovatif/onboarding/")
        assert body["expires_at"].endswith("Z") and "." in body["expires_at"]
        expires = parse_datetime(body["expires_at"])
        assert timedelta(hours=23, minutes=59) < expires - before < timedelta(hours=24, minutes=1)

    def test_stores_fields_defaults_and_provider_ids(self, api, funded, provider, valid_body):
        valid_body.update(success_url="https://yourapp.example/ok", fail_url="https://yourapp.example/fail")
        body = create_session(api, valid_body)
        session = KycSession.objects.get(pk=body["id"])
        assert session.client == funded and session.api_key == api.api_key and not session.is_test
        assert session.document_type == "1" and session.platform == "Web"
        assert session.document_number == "901234-56-7890"
        assert session.metadata == {"user_id": "usr_12345"}
        assert session.success_url == "https://yourapp.example/ok"
        assert session.fail_url == "https://yourapp.example/fail"
        assert session.ref_id.startswith("ACME_") and len(session.ref_id) <= 32
        assert session.provider_ref_id.endswith(session.ref_id) and session.provider_ref_id != session.ref_id
        assert session.onboarding_id and session.onboarding_url == body["onboarding_url"]

    def test_passport_and_platform(self, api, funded, provider, valid_body):
        valid_body.update(document_type="2", document_number="A12345678", platform="iOS")
        body = create_session(api, valid_body)
        session = KycSession.objects.get(pk=body["id"])
        assert (session.document_type, session.platform) == ("2", "iOS")

    def test_response_url_defaults_to_status_page_and_honours_redirect(self, api, funded, provider, valid_body):
        from sandbox.models import SandboxTransaction

        first = create_session(api, valid_body)
        assert (
            SandboxTransaction.objects.get(
                onboarding_id=KycSession.objects.get(pk=first["id"]).onboarding_id
            ).response_url
            == f"{provider.url}/r/{first['id']}"
        )
        valid_body["redirect_url"] = "https://yourapp.example/done"
        second = create_session(api, valid_body)
        sandbox_tx = SandboxTransaction.objects.get(onboarding_id=KycSession.objects.get(pk=second["id"]).onboarding_id)
        assert sandbox_tx.response_url == "https://yourapp.example/done"

    def test_ref_ids_are_unique(self, api, funded, provider, valid_body):
        ids = {KycSession.objects.get(pk=create_session(api, valid_body)["id"]).ref_id for _ in range(5)}
        assert len(ids) == 5

    def test_test_key_session_is_test_and_never_held(self, test_api, acme, provider, valid_body):
        body = create_session(test_api, valid_body)
        session = KycSession.objects.get(pk=body["id"])
        assert session.is_test
        assert not Hold.objects.filter(session=session).exists()


class TestCreateValidation:
    @pytest.mark.parametrize(
        "change",
        [
            {"document_name": None},
            {"document_number": None},
            {"document_name": ""},
            {"document_number": "  "},
            {"document_name": 12},
        ],
    )
    def test_missing_document_fields(self, api, valid_body, change):
        valid_body.update(change)
        body = {k: v for k, v in valid_body.items() if v is not None}
        assert_error(post(api, body), 400, "BAD_REQUEST", "document_name and document_number are required")

    def test_missing_webhook_url(self, api, valid_body):
        del valid_body["webhook_url"]
        assert_error(post(api, valid_body), 400, "BAD_REQUEST", "webhook_url is required")

    @pytest.mark.parametrize("url", ["not a url", "ftp://example.com/x", "javascript:alert(1)", "http://", 42])
    def test_invalid_webhook_url(self, api, valid_body, url):
        valid_body["webhook_url"] = url
        assert_error(post(api, valid_body), 400, "BAD_REQUEST", "webhook_url must be a valid HTTP/HTTPS URL")

    @pytest.mark.parametrize("raw", ["[1, 2]", '"text"', "null", "42"])
    def test_body_not_an_object(self, api, raw):
        response = api.post("/api/v1/kyc/sessions", raw, content_type="application/json")
        assert_error(response, 400, "BAD_REQUEST", "Request body must be a JSON object")

    def test_malformed_json(self, api):
        response = api.post("/api/v1/kyc/sessions", "{nope", content_type="application/json")
        assert_error(response, 400, "BAD_REQUEST")

    def test_unknown_document_type(self, api, valid_body):
        valid_body["document_type"] = "3"
        assert_error(post(api, valid_body), 400, "BAD_REQUEST", 'document_type must be "1" (MyKad) or "2" (Passport)')

    def test_unknown_platform(self, api, valid_body):
        valid_body["platform"] = "Windows"
        assert_error(post(api, valid_body), 400, "BAD_REQUEST", 'platform must be one of "Web", "iOS", "Android"')

    @pytest.mark.parametrize("number", ["90123456789", "9012345678901", "90123A567890", "901234/56/7890"])
    def test_bad_mykad_number(self, api, valid_body, number):
        valid_body["document_number"] = number
        body = assert_error(post(api, valid_body), 400, "BAD_REQUEST")
        assert "12-digit MyKad" in body["message"]

    def test_mykad_with_spaces_is_accepted_by_validation(self, api, valid_body):
        from kyc.validation import validate_session_create

        valid_body["document_number"] = "901234 56 7890"
        assert validate_session_create(valid_body)["document_number"] == "901234 56 7890"

    def test_document_name_too_long(self, api, valid_body):
        valid_body["document_name"] = "A" * 101
        assert_error(post(api, valid_body), 400, "BAD_REQUEST", "document_name must be at most 100 characters")

    @pytest.mark.parametrize("metadata", [[1, 2], "text", 5])
    def test_metadata_not_object(self, api, valid_body, metadata):
        valid_body["metadata"] = metadata
        assert_error(post(api, valid_body), 400, "BAD_REQUEST", "metadata must be a JSON object")

    def test_metadata_too_large(self, api, valid_body):
        valid_body["metadata"] = {"blob": "x" * 5000}
        body = assert_error(post(api, valid_body), 400, "BAD_REQUEST")
        assert body["message"].startswith("metadata must be at most")

    @pytest.mark.parametrize("field", ["redirect_url", "success_url", "fail_url"])
    def test_bad_optional_urls(self, api, valid_body, field):
        valid_body[field] = "notaurl"
        assert_error(post(api, valid_body), 400, "BAD_REQUEST", f"{field} must be a valid HTTP/HTTPS URL")

    def test_validation_errors_write_nothing(self, api, valid_body):
        valid_body["document_type"] = "9"
        post(api, valid_body)
        assert KycSession.objects.count() == 0

    def test_unauthenticated(self, anon_api, valid_body):
        assert_error(post(anon_api, valid_body), 401, "UNAUTHORIZED")
        anon_api.credentials(HTTP_AUTHORIZATION="Bearer ts_live_" + "x" * 32)
        assert_error(post(anon_api, valid_body), 401, "UNAUTHORIZED", "Invalid API key")


class TestCreateGatewayFailure:
    def test_provider_unreachable_is_502_and_leaves_a_failed_record(self, api, funded, provider_down, valid_body):
        assert_error(post(api, valid_body), 502, "GATEWAY_ERROR", "Failed to initiate KYC session")
        session = KycSession.objects.get()
        assert session.status == KycSession.Status.FAILED
        assert session.provider_error
        hold = Hold.objects.get(session=session)
        assert hold.status == Hold.Status.RELEASED
        from billing.models import LedgerEntry

        assert not LedgerEntry.objects.filter(session=session).exists()

    def test_provider_error_answer_is_502(self, api, funded, provider, valid_body, settings):
        settings.SANDBOX_FAILURE_RATE = 1.0
        assert_error(post(api, valid_body), 502, "GATEWAY_ERROR", "Failed to initiate KYC session")
        assert KycSession.objects.get().status == KycSession.Status.FAILED

    def test_failed_session_is_invisible_to_the_client(self, api, funded, provider_down, valid_body):
        post(api, valid_body)
        session = KycSession.objects.get()
        assert_error(api.get(f"/api/v1/kyc/sessions/{session.id}"), 404, "NOT_FOUND")


class TestInsufficientCredits:
    def test_402_with_balance(self, api, acme, provider, valid_body):
        body = assert_error(post(api, valid_body), 402, "INSUFFICIENT_CREDITS", "Client credit balance exhausted")
        assert body["balance"] == 0
        assert KycSession.objects.count() == 0

    def test_overdraft_proceeds(self, api, acme, provider, valid_body):
        acme.allow_overdraft = True
        acme.save()
        create_session(api, valid_body)

    def test_second_session_refused_when_credit_covers_one(self, api, acme, provider, valid_body):
        from billing.services import credit_add

        credit_add(client=acme, credits=50, description="one session")
        create_session(api, valid_body)
        body = assert_error(post(api, valid_body), 402, "INSUFFICIENT_CREDITS")
        assert body["balance"] == 50


def statements(captured) -> list[str]:
    """TrueStack's own statements (the in-process sandbox shares the SQLite
    connection in tests; transaction control is not a round trip of ours)."""
    return [
        q["sql"]
        for q in captured
        if "sandbox_" not in q["sql"] and not q["sql"].startswith(("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE"))
    ]


def test_query_count_for_create_is_pinned(api, funded, provider, valid_body):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    create_session(api, valid_body)  # warm: last_used_at written, credit account exists
    with CaptureQueriesContext(connection) as captured:
        create_session(api, valid_body)
    ours = statements(captured.captured_queries)
    # key lookup; tiers; session insert; hold insert; tally and account conditional updates (one
    # statement on PostgreSQL); provider ids update. No lock-then-read, no count of open sessions
    # while under the cap.
    assert len(ours) == (6 if connection.vendor == "postgresql" else 7), json.dumps(ours, indent=1)
    assert not any("COUNT(" in sql for sql in ours)
