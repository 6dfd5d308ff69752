"""Open-session cap, idempotent create, and the reconciliation listing."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from billing.models import Hold
from kyc.models import IdempotencyRecord, KycSession

from .helpers import create_session, sandbox_complete
from .test_create import assert_error, post

pytestmark = pytest.mark.django_db(transaction=True)


class TestOpenSessionCap:
    def test_cap_refuses_one_more_without_calling_the_provider(self, api, funded, provider, valid_body, settings):
        settings.MAX_OPEN_SESSIONS = 3
        for _ in range(3):
            create_session(api, valid_body)
        from sandbox.models import SandboxTransaction

        transactions = SandboxTransaction.objects.count()
        body = assert_error(post(api, valid_body), 429, "CONCURRENT_SESSION_LIMIT")
        assert "3" in body["message"]
        assert SandboxTransaction.objects.count() == transactions
        assert KycSession.objects.count() == 3

    def test_per_client_cap_and_finished_sessions_free_a_slot(self, api, funded, provider, valid_body):
        funded.max_open_sessions = 1
        funded.save()
        first = create_session(api, valid_body)
        assert post(api, valid_body).status_code == 429
        session = KycSession.objects.get(pk=first["id"])
        sandbox_complete(session, outcome="approved")
        create_session(api, valid_body)

    def test_sessions_past_expires_at_do_not_count(self, api, funded, provider, valid_body):
        funded.max_open_sessions = 1
        funded.save()
        first = create_session(api, valid_body)
        KycSession.objects.filter(pk=first["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
        create_session(api, valid_body)

    def test_retry_after_header(self, api, funded, provider, valid_body):
        funded.max_open_sessions = 0
        funded.save()
        response = post(api, valid_body)
        assert response.status_code == 429 and int(response["Retry-After"]) > 0

    def test_failed_creation_is_not_an_open_session(self, api, funded, provider, valid_body, provider_down):
        from kyc.models import OpenSessionTally

        def tally():
            return OpenSessionTally.objects.get(client=funded).open_count

        assert post(api, valid_body).status_code == 502  # provider down: failed, not open
        assert tally() == 0

    def test_open_session_tally_with_a_working_provider(self, api, funded, provider, valid_body):
        from kyc import tasks
        from kyc.models import OpenSessionTally

        def tally():
            return OpenSessionTally.objects.get(client=funded).open_count

        sessions = [KycSession.objects.get(pk=create_session(api, valid_body)["id"]) for _ in range(3)]
        assert tally() == 3
        sandbox_complete(sessions[0], outcome="approved", callbacks=2)
        assert tally() == 2
        KycSession.objects.filter(pk=sessions[1].pk).update(expires_at=timezone.now() - timedelta(seconds=1))
        tasks.expire_sessions()
        assert tally() == 1
        assert tally() == KycSession.objects.filter(client=funded, status__in=["pending", "processing"]).count()

    @pytest.mark.postgres
    def test_cap_is_exact_under_concurrent_creates(self, api, funded, provider, valid_body):
        funded.max_open_sessions = 5
        funded.save()

        def create(_):
            return requests.post(
                f"{provider.url}/api/v1/kyc/sessions",
                json=valid_body,
                timeout=60,
                headers={"Authorization": f"Bearer {api.raw_key}"},
            ).status_code

        with ThreadPoolExecutor(max_workers=12) as pool:
            codes = list(pool.map(create, range(12)))
        assert codes.count(201) == 5 and codes.count(429) == 7
        assert KycSession.objects.filter(status__in=["pending", "processing"]).count() == 5


class TestIdempotentCreate:
    def test_replay_returns_first_answer_without_a_second_transaction(self, api, funded, provider, valid_body):
        from sandbox.models import SandboxTransaction

        first = post(api, valid_body, HTTP_IDEMPOTENCY_KEY="order-1")
        second = post(api, valid_body, HTTP_IDEMPOTENCY_KEY="order-1")
        assert first.status_code == second.status_code == 201
        assert first.json() == second.json()
        assert second["Idempotent-Replayed"] == "true"
        assert KycSession.objects.count() == 1 and SandboxTransaction.objects.count() == 1
        assert Hold.objects.count() == 1

    def test_same_key_different_body_is_422(self, api, funded, provider, valid_body):
        post(api, valid_body, HTTP_IDEMPOTENCY_KEY="order-2")
        valid_body["document_name"] = "Someone Else"
        assert_error(post(api, valid_body, HTTP_IDEMPOTENCY_KEY="order-2"), 422, "IDEMPOTENCY_KEY_REUSED")
        assert KycSession.objects.count() == 1

    def test_keys_are_per_client(self, api, funded, provider, valid_body, make_client, make_api_key):
        from rest_framework.test import APIClient

        other = make_client(code="OTHER", allow_overdraft=True)
        _, raw = make_api_key(other)
        other_api = APIClient()
        other_api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        a = post(api, valid_body, HTTP_IDEMPOTENCY_KEY="shared")
        b = post(other_api, valid_body, HTTP_IDEMPOTENCY_KEY="shared")
        assert a.status_code == b.status_code == 201 and a.json()["id"] != b.json()["id"]

    def test_validation_error_is_replayed(self, api, valid_body):
        del valid_body["webhook_url"]
        first = post(api, valid_body, HTTP_IDEMPOTENCY_KEY="bad-1")
        second = post(api, valid_body, HTTP_IDEMPOTENCY_KEY="bad-1")
        assert first.status_code == second.status_code == 400
        assert first.json() == second.json() == {"error": "BAD_REQUEST", "message": "webhook_url is required"}

    def test_transient_failure_releases_the_key(self, api, acme, provider, valid_body):
        assert post(api, valid_body, HTTP_IDEMPOTENCY_KEY="k-402").status_code == 402
        from billing.services import credit_add

        credit_add(client=acme, credits=100, description="top-up")
        assert post(api, valid_body, HTTP_IDEMPOTENCY_KEY="k-402").status_code == 201

    def test_expired_key_can_be_reused(self, api, funded, provider, valid_body):
        post(api, valid_body, HTTP_IDEMPOTENCY_KEY="old")
        IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))
        valid_body["document_name"] = "Different Body"
        assert post(api, valid_body, HTTP_IDEMPOTENCY_KEY="old").status_code == 201
        assert KycSession.objects.count() == 2

    def test_key_too_long(self, api, valid_body):
        assert_error(post(api, valid_body, HTTP_IDEMPOTENCY_KEY="k" * 256), 400, "BAD_REQUEST")

    @pytest.mark.postgres
    def test_concurrent_requests_with_one_key_create_one_session(self, api, funded, provider, valid_body, settings):
        settings.SANDBOX_LATENCY_MS = 300  # keep the first request in flight while the others arrive

        def create(_):
            response = requests.post(
                f"{provider.url}/api/v1/kyc/sessions",
                json=valid_body,
                timeout=60,
                headers={"Authorization": f"Bearer {api.raw_key}", "Idempotency-Key": "race"},
            )
            return response.status_code, response.json()

        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(create, range(8)))
        assert {code for code, _ in answers} == {201}
        assert len({body["id"] for _, body in answers}) == 1
        assert KycSession.objects.count() == 1 and Hold.objects.count() == 1


class TestListing:
    @pytest.fixture
    def sessions(self, api, funded, provider, valid_body):
        made = []
        for i in range(7):
            valid_body["metadata"] = {"user_id": f"usr_{i}", "batch": "A" if i < 4 else "B"}
            made.append(KycSession.objects.get(pk=create_session(api, valid_body)["id"]))
        base = timezone.now() - timedelta(days=7)
        for i, session in enumerate(made):
            KycSession.objects.filter(pk=session.pk).update(created_at=base + timedelta(days=i))
        sandbox_complete(made[0], outcome="approved")
        sandbox_complete(made[1], outcome="rejected")
        return made

    def ids(self, response):
        assert response.status_code == 200, response.content
        return [item["id"] for item in response.json()["results"]]

    def test_newest_first_and_item_shape(self, api, sessions):
        body = api.get("/api/v1/kyc/sessions").json()
        assert [item["id"] for item in body["results"]] == [str(s.id) for s in reversed(sessions)]
        item = body["results"][-1]
        assert set(item) == {
            "id",
            "status",
            "result",
            "document_name",
            "document_number",
            "document_type",
            "metadata",
            "created_at",
            "updated_at",
            "expires_at",
        }
        assert "ocr_result" not in item

    def test_cursor_pagination_walks_everything_once(self, api, sessions):
        seen, url = [], "/api/v1/kyc/sessions?limit=3"
        while url:
            body = api.get(url).json()
            assert len(body["results"]) <= 3
            seen += [item["id"] for item in body["results"]]
            url = body["next"]
        assert seen == [str(s.id) for s in reversed(sessions)]

    def test_filters(self, api, sessions):
        assert self.ids(api.get("/api/v1/kyc/sessions?status=completed")) == [str(sessions[1].id), str(sessions[0].id)]
        assert self.ids(api.get("/api/v1/kyc/sessions?result=rejected")) == [str(sessions[1].id)]
        assert self.ids(api.get("/api/v1/kyc/sessions?metadata_key=user_id&metadata_value=usr_3")) == [
            str(sessions[3].id)
        ]
        assert len(self.ids(api.get("/api/v1/kyc/sessions?metadata_key=batch&metadata_value=B"))) == 3
        after = KycSession.objects.get(pk=sessions[5].pk).created_at
        ids = self.ids(api.get("/api/v1/kyc/sessions", {"created_after": after.isoformat()}))
        assert ids == [str(sessions[6].id), str(sessions[5].id)]
        before = KycSession.objects.get(pk=sessions[1].pk).created_at
        assert self.ids(api.get("/api/v1/kyc/sessions", {"created_before": before.isoformat()})) == [
            str(sessions[0].id)
        ]

    @pytest.mark.parametrize(
        "query",
        [
            "status=done",
            "result=maybe",
            "created_after=yesterday",
            "limit=0",
            "limit=abc",
            "metadata_key=user_id",
            "metadata_key=bad key&metadata_value=1",
            "cursor=garbage",
        ],
    )
    def test_bad_filters_are_400(self, api, query):
        assert_error(api.get(f"/api/v1/kyc/sessions?{query}"), 400, "BAD_REQUEST")

    def test_only_own_sessions(self, sessions, make_client, make_api_key):
        from rest_framework.test import APIClient

        other = make_client(code="OTHER")
        _, raw = make_api_key(other)
        other_api = APIClient()
        other_api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        assert other_api.get("/api/v1/kyc/sessions").json()["results"] == []

    def test_query_count_independent_of_page_size(self, api, sessions, django_assert_num_queries):
        api.get("/api/v1/kyc/sessions?limit=1")
        with django_assert_num_queries(2):
            api.get("/api/v1/kyc/sessions?limit=1")
        with django_assert_num_queries(2):
            api.get("/api/v1/kyc/sessions?limit=200")
