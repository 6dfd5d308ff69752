"""The Events API over real HTTP (DRF test client), real receivers and the real
tasks: listing, detail, redelivery, bulk replay after an outage, test sends,
retention, test mode and cross-client isolation."""

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from clients.models import ApiKey
from clients.services import client_webhook_secret
from kyc.models import KycSession
from kyc.services import session_event_record, session_expire
from truestack.formats import iso_utc
from webhooks import tasks
from webhooks.models import Attempt, BulkRedelivery, Delivery, Event
from webhooks.services import delivery_attempt, events_purge_expired

pytestmark = pytest.mark.django_db

EVENTS = "/api/v1/events"


def record(session, kind=Event.Kind.SESSION_COMPLETED) -> Event:
    return session_event_record(session=session, kind=kind)


def deliver_until_settled(delivery_id) -> str:
    """Run the real delivery task until the delivery is delivered or failed,
    making each retry due instead of waiting for it."""
    for _ in range(50):
        Delivery.objects.filter(pk=delivery_id, state=Delivery.State.RETRYING).update(
            next_attempt_at=timezone.now() - timedelta(seconds=1)
        )
        tasks.deliver(str(delivery_id))
        state = Delivery.objects.get(pk=delivery_id).state
        if state in (Delivery.State.DELIVERED, Delivery.State.FAILED):
            return state
    raise AssertionError("delivery never settled")


@pytest.fixture
def other(make_client, make_api_key):
    """Another client with its own live key and API client."""
    client = make_client(code="OTHER", name="Other Bank")
    key, raw = make_api_key(client)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    api.client_obj, api.api_key = client, key
    return api


@pytest.fixture
def other_event(other, make_session):
    session = make_session("https://other.example/hooks", client=other.client_obj, api_key=other.api_key)
    return record(session)


def ids(response) -> list[str]:
    return [item["id"] for item in response.json()["results"]]


# --- listing -----------------------------------------------------------------------------


def test_listing_newest_first_with_exact_body_and_summary(api, make_session, other_event):
    first = record(make_session("https://hooks.example/kyc"))
    second = record(
        make_session("https://hooks.example/kyc", status="expired", result=None), Event.Kind.SESSION_EXPIRED
    )

    response = api.get(EVENTS)

    assert response.status_code == 200
    assert ids(response) == [str(second.id), str(first.id)]  # newest first, nothing of OTHER
    item = response.json()["results"][1]
    assert item["type"] == "kyc.session.completed"
    assert item["session_id"] == str(first.session_id)
    assert item["data"] == json.loads(bytes(first.body))  # the stored bytes, parsed
    assert item["data"]["sequence"] == 1
    assert item["delivery"] == {
        "status": "pending",
        "attempts": 0,
        "last_response_code": None,
        "last_attempt_at": None,
        "next_attempt_at": item["delivery"]["next_attempt_at"],
        "delivered_at": None,
        "deliveries": 1,
    }
    assert item["delivery"]["next_attempt_at"] is not None


def test_listing_filters(api, make_session, make_receiver):
    failing = make_receiver(default=503)
    completed = record(make_session(failing.url))
    expired = record(
        make_session("https://hooks.example/kyc", status="expired", result=None), Event.Kind.SESSION_EXPIRED
    )
    Event.objects.filter(pk=expired.pk).update(created_at=timezone.now() - timedelta(days=2))
    delivery_attempt(delivery_id=completed.deliveries.get().pk)

    assert ids(api.get(EVENTS, {"type": "kyc.session.expired"})) == [str(expired.id)]
    assert ids(api.get(EVENTS, {"session_id": str(completed.session_id)})) == [str(completed.id)]
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert ids(api.get(EVENTS, {"created_after": since})) == [str(completed.id)]
    assert ids(api.get(EVENTS, {"created_before": since})) == [str(expired.id)]
    assert ids(api.get(EVENTS, {"status": "failing"})) == [str(completed.id)]
    assert ids(api.get(EVENTS, {"status": "pending"})) == [str(expired.id)]
    assert ids(api.get(EVENTS, {"status": "delivered"})) == []
    summary = api.get(EVENTS, {"status": "failing"}).json()["results"][0]["delivery"]
    assert (summary["status"], summary["attempts"], summary["last_response_code"]) == ("failing", 1, 503)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"type": "kyc.session.nope"}, "type must be one of"),
        ({"session_id": "not-a-uuid"}, "session_id must be a session id (UUID)"),
        ({"created_after": "2026-02-30"}, "created_after must be an ISO 8601 date or date-time"),
        ({"status": "lost"}, "status must be one of"),
        ({"limit": "0"}, "limit must be an integer"),
        ({"cursor": "garbage"}, "cursor is invalid or expired"),
    ],
)
def test_listing_bad_filters_are_400_in_the_envelope(api, query, message):
    response = api.get(EVENTS, query)
    assert response.status_code == 400
    assert response.json()["error"] == "BAD_REQUEST"
    assert response.json()["message"].startswith(message)


def test_listing_pages_follow_next(api, make_session):
    events = [record(make_session("https://hooks.example/kyc")) for _ in range(5)]
    seen, url = [], f"{EVENTS}?limit=2"
    while url:
        page = api.get(url).json()
        seen += [item["id"] for item in page["results"]]
        url = page["next"]
    assert seen == [str(event.id) for event in reversed(events)]


def test_listing_runs_a_fixed_number_of_queries(api, make_session, make_receiver, django_assert_num_queries):
    receiver = make_receiver(script=[503, 503], default=200)
    for _ in range(6):
        event = record(make_session(receiver.url))
        deliver_until_settled(event.deliveries.get().pk)
        Delivery.objects.create(event=event, url=receiver.url)  # a redelivery: two deliveries per event
    api.get(EVENTS)  # warm up (authentication caches, content types)

    # Authentication, the page of events, their deliveries with each one's last answer.
    with django_assert_num_queries(3):
        small = api.get(EVENTS, {"limit": 1})
    with django_assert_num_queries(3):
        large = api.get(EVENTS, {"limit": 200})
    with django_assert_num_queries(3):
        filtered = api.get(EVENTS, {"limit": 200, "status": "pending", "type": "kyc.session.completed"})
    assert len(small.json()["results"]) == 1
    assert len(large.json()["results"]) == 6
    assert len(filtered.json()["results"]) == 6
    assert {item["delivery"]["deliveries"] for item in large.json()["results"]} == {2}


# --- detail --------------------------------------------------------------------------------


def test_detail_lists_every_attempt(api, make_session, make_receiver):
    receiver = make_receiver(script=[(503, b"busy, try later"), 500], default=(200, b"thanks"))
    event = record(make_session(receiver.url))
    assert deliver_until_settled(event.deliveries.get().pk) == Delivery.State.DELIVERED

    response = api.get(f"{EVENTS}/{event.id}")

    assert response.status_code == 200
    body = response.json()
    assert body["data"] == json.loads(bytes(event.body))
    assert [(a["number"], a["response_code"], a["error"]) for a in body["attempts"]] == [
        (1, 503, "HTTP 503"),
        (2, 500, "HTTP 500"),
        (3, 200, None),
    ]
    assert body["attempts"][0]["response_excerpt"] == "busy, try later"
    assert all(a["duration_ms"] is not None and a["at"] for a in body["attempts"])
    assert body["delivery"]["status"] == "delivered"
    assert body["delivery"]["attempts"] == 3
    assert body["delivery"]["last_response_code"] == 200


def test_cross_client_access_is_404_everywhere(api, other, other_event, make_session):
    mine = record(make_session("https://hooks.example/kyc"))
    for response in (
        api.get(f"{EVENTS}/{other_event.id}"),
        api.post(f"{EVENTS}/{other_event.id}/redeliver"),
        other.get(f"{EVENTS}/{mine.id}"),
        other.post(f"{EVENTS}/{mine.id}/redeliver"),
        api.get(f"{EVENTS}/not-a-uuid"),
        api.post(f"{EVENTS}/not-a-uuid/redeliver"),
    ):
        assert response.status_code == 404
        assert response.json() == {"error": "NOT_FOUND", "message": "Event not found"}
    assert ids(api.get(EVENTS, {"session_id": str(other_event.session_id)})) == []
    assert ids(other.get(EVENTS)) == [str(other_event.id)]
    assert Delivery.objects.filter(event=other_event).count() == 1  # no redelivery happened
    # A bulk replay of everything touches only the caller's events.
    Delivery.objects.update(state=Delivery.State.FAILED, attempt_count=10)
    window = {"created_after": "2000-01-01", "created_before": "2100-01-01"}
    assert api.post(f"{EVENTS}/redeliver", window, format="json").json()["count"] == 1
    job = BulkRedelivery.objects.get()
    tasks.redeliver_events(str(job.pk))
    assert Delivery.objects.filter(event=other_event).count() == 1
    assert Delivery.objects.filter(event=mine).count() == 2


def test_test_keys_see_only_test_events_and_live_keys_only_live(api, test_api, acme, make_session):
    live = record(make_session("https://hooks.example/kyc"))
    test = record(make_session("https://hooks.example/kyc", api_key=test_api.api_key, is_test=True))
    assert Event.objects.get(pk=test.pk).is_test is True

    assert ids(api.get(EVENTS)) == [str(live.id)]
    assert ids(test_api.get(EVENTS)) == [str(test.id)]
    assert api.get(f"{EVENTS}/{test.id}").status_code == 404
    assert test_api.get(f"{EVENTS}/{live.id}").status_code == 404
    assert test_api.post(f"{EVENTS}/{live.id}/redeliver").status_code == 404
    assert test_api.get(f"{EVENTS}/{test.id}").status_code == 200


# --- redelivery --------------------------------------------------------------------------


def test_redelivery_sends_the_same_body_with_the_same_webhook_id(api, acme, make_session, receiver, example_receiver):
    event = record(make_session(receiver.url))
    original = event.deliveries.get()
    assert deliver_until_settled(original.pk) == Delivery.State.DELIVERED

    response = api.post(f"{EVENTS}/{event.id}/redeliver")

    assert response.status_code == 202
    body = response.json()
    assert body["event_id"] == str(event.id)
    assert body["status"] == "pending"
    assert body["url"] == receiver.url
    new = Delivery.objects.get(pk=body["delivery_id"])
    assert new.pk != original.pk and new.event_id == event.pk
    assert deliver_until_settled(new.pk) == Delivery.State.DELIVERED

    first, again = receiver.requests
    assert again.headers["webhook-id"] == first.headers["webhook-id"] == str(event.id)
    assert again.body == first.body == bytes(event.body)
    assert again.headers["X-TrueStack-Delivery"] == str(new.pk) != first.headers["X-TrueStack-Delivery"]
    assert example_receiver.verify(
        again.headers, again.body, api_key=api.raw_key, whsec=client_webhook_secret(client=acme)
    )
    detail = api.get(f"{EVENTS}/{event.id}").json()
    assert detail["delivery"]["deliveries"] == 2
    assert len(detail["attempts"]) == 2


def test_redeliveries_are_limited_per_client_per_minute(settings, api, other, other_event, make_session):
    settings.EVENTS_REDELIVER_RATE_LIMIT_PER_MINUTE = 2
    event = record(make_session("https://hooks.example/kyc"))
    assert api.post(f"{EVENTS}/{event.id}/redeliver").status_code == 202
    assert api.post(f"{EVENTS}/{event.id}/redeliver").status_code == 202

    refused = api.post(f"{EVENTS}/{event.id}/redeliver")

    assert refused.status_code == 429
    assert refused.json()["error"] == "RATE_LIMITED"
    assert "2 redeliveries per minute" in refused.json()["message"]
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert Delivery.objects.filter(event=event).count() == 3
    # Reading is not limited by it, and another client has its own allowance.
    assert api.get(EVENTS).status_code == 200
    assert other.post(f"{EVENTS}/{other_event.id}/redeliver").status_code == 202


# --- bulk replay after an outage ---------------------------------------------------------------


def test_outage_longer_than_the_retry_window_then_bulk_replay_delivers_each_event_once_more(
    settings, api, other, make_session, make_receiver, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    settings.EVENTS_BULK_REDELIVER_BATCH_SIZE = 2  # several batches, each its own task run
    down = make_receiver(default=503)
    other_down = make_receiver(default=503)
    events = [record(make_session(down.url)) for _ in range(5)]
    others = [record(make_session(other_down.url, client=other.client_obj, api_key=other.api_key)) for _ in range(2)]
    for event in events + others:
        assert deliver_until_settled(event.deliveries.get().pk) == Delivery.State.FAILED
    assert len(down.requests) == 15 and len(other_down.requests) == 6
    assert ids(api.get(EVENTS, {"status": "failed"})) == [str(e.id) for e in reversed(events)]

    # The receiver is back.
    down.default, other_down.default = 200, 200
    down.requests.clear()
    other_down.requests.clear()
    window = {
        "created_after": (timezone.now() - timedelta(hours=1)).isoformat(),
        "created_before": (timezone.now() + timedelta(minutes=1)).isoformat(),
        "status": "failed",
    }
    with django_capture_on_commit_callbacks() as queued:
        response = api.post(f"{EVENTS}/redeliver", window, format="json")
    assert response.status_code == 202
    assert response.json()["count"] == 5 and response.json()["truncated"] is False
    assert len(queued) == 1  # only the job's first batch; nothing is delivered in the request
    assert Delivery.objects.count() == 7

    job = BulkRedelivery.objects.get(pk=response.json()["id"])
    batches = []
    while True:
        done = tasks.redeliver_events(str(job.pk))
        if not done:
            break
        batches.append(done)
    assert batches == [2, 2, 1]
    job.refresh_from_db()
    assert job.processed == 5 and job.finished_at is not None
    for delivery in Delivery.objects.filter(state=Delivery.State.PENDING).order_by("event__created_at"):
        assert deliver_until_settled(delivery.pk) == Delivery.State.DELIVERED

    # Every event exactly once more, oldest first, same bytes and webhook-id; nothing for OTHER.
    assert [r.headers["webhook-id"] for r in down.requests] == [str(e.id) for e in events]
    assert [r.body for r in down.requests] == [bytes(e.body) for e in events]
    assert other_down.requests == []
    assert all(Delivery.objects.filter(event=e).count() == 1 for e in others)
    listed = api.get(EVENTS).json()["results"]
    assert {item["delivery"]["status"] for item in listed} == {"delivered"}

    # Running the task again, or asking again, sends nothing more.
    assert tasks.redeliver_events(str(job.pk)) == 0
    again = api.post(f"{EVENTS}/redeliver", window, format="json")
    assert again.status_code == 202 and again.json() == {"count": 0, "truncated": False, "id": None}
    assert len(down.requests) == 5


def test_bulk_replay_is_capped_and_says_so(settings, api, make_session):
    settings.EVENTS_BULK_REDELIVER_MAX = 3
    events = [record(make_session("https://hooks.example/kyc")) for _ in range(4)]
    Delivery.objects.update(state=Delivery.State.FAILED)
    window = {"created_after": "2000-01-01T00:00:00Z", "created_before": "2100-01-01T00:00:00Z"}

    response = api.post(f"{EVENTS}/redeliver", window, format="json")

    assert response.status_code == 202
    assert response.json()["count"] == 3 and response.json()["truncated"] is True
    job = BulkRedelivery.objects.get()
    while tasks.redeliver_events(str(job.pk)):
        pass
    redelivered = [e for e in events if Delivery.objects.filter(event=e).count() == 2]
    assert redelivered == events[:3]  # oldest first, at most the cap


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"created_before": "2026-01-02"}, "created_after is required"),
        ({"created_after": "2026-01-01"}, "created_before is required"),
        ({"created_after": "yesterday", "created_before": "2026-01-02"}, "created_after must be an ISO 8601"),
        ({"created_after": 5, "created_before": "2026-01-02"}, "created_after must be an ISO 8601"),
        (
            {"created_after": "2026-01-02", "created_before": "2026-01-01"},
            "created_after must be before created_before",
        ),
        ({"created_after": "2026-01-01", "created_before": "2026-01-02", "status": "lost"}, "status must be one of"),
        (["not", "an", "object"], "Request body must be a JSON object"),
    ],
)
def test_bulk_replay_validation(api, body, message):
    response = api.post(f"{EVENTS}/redeliver", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "BAD_REQUEST"
    assert response.json()["message"].startswith(message)
    assert not BulkRedelivery.objects.exists()


def test_a_lost_bulk_batch_is_resumed(api, make_session):
    record(make_session("https://hooks.example/kyc"))
    Delivery.objects.update(state=Delivery.State.FAILED)
    window = {"created_after": "2000-01-01", "created_before": "2100-01-01"}
    job_id = api.post(f"{EVENTS}/redeliver", window, format="json").json()["id"]
    BulkRedelivery.objects.filter(pk=job_id).update(updated_at=timezone.now() - timedelta(minutes=5))

    assert tasks.resume_bulk_redeliveries() == 1
    assert tasks.redeliver_events(job_id) == 1
    assert tasks.resume_bulk_redeliveries() == 0  # finished


# --- retention ------------------------------------------------------------------------------


def test_events_past_retention_are_purged_and_answer_404(settings, api, make_session, make_receiver):
    settings.EVENTS_RETENTION_DAYS = 30
    receiver = make_receiver(default=200)
    old = record(make_session(receiver.url))
    deliver_until_settled(old.deliveries.get().pk)
    recent = record(make_session(receiver.url))
    Event.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=31))
    assert api.get(f"{EVENTS}/{old.id}").status_code == 200

    assert tasks.purge_expired_events() == 1

    assert api.get(f"{EVENTS}/{old.id}").status_code == 404
    assert api.post(f"{EVENTS}/{old.id}/redeliver").status_code == 404
    assert ids(api.get(EVENTS)) == [str(recent.id)]
    assert not Delivery.objects.filter(event_id=old.pk).exists()
    assert not Attempt.objects.filter(delivery__event_id=old.pk).exists()
    assert events_purge_expired() == 0


def test_purge_works_in_bounded_batches(settings, make_session):
    for _ in range(5):
        record(make_session("https://hooks.example/kyc"))
    Event.objects.update(created_at=timezone.now() - timedelta(days=40))
    assert events_purge_expired(batch_size=2, max_batches=2) == 4
    assert Event.objects.count() == 1
    assert events_purge_expired(batch_size=2) == 1


# --- test sends ------------------------------------------------------------------------------


def test_test_send_signs_a_marked_sample_and_reports_the_answer(api, acme, receiver, example_receiver):
    receiver.default = (200, b"received")
    response = api.post(f"{EVENTS}/test", {"url": receiver.url}, format="json")

    assert response.status_code == 200
    result = response.json()
    assert result["delivered"] is True
    assert result["response_code"] == 200
    assert result["response_excerpt"] == "received"
    assert result["error"] is None
    [request] = receiver.requests
    body = json.loads(request.body)
    assert body["sample"] is True
    assert body["event"] == "kyc.session.completed"
    assert body["data"]["session_id"] == "00000000-0000-0000-0000-000000000000"
    assert request.headers["webhook-id"] == body["id"] == result["event_id"]
    assert example_receiver.verify(
        request.headers, request.body, api_key=api.raw_key, whsec=client_webhook_secret(client=acme)
    )
    assert not Event.objects.exists() and not Delivery.objects.exists()


def test_test_send_reports_an_unreachable_receiver(api, receiver):
    url = receiver.url
    receiver.stop()
    response = api.post(f"{EVENTS}/test", {"url": url}, format="json")
    assert response.status_code == 200
    assert response.json()["delivered"] is False
    assert response.json()["response_code"] is None
    assert response.json()["error"].startswith("connection error")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "url is required"),
        ({"url": "ftp://example.com/x"}, "url must be a valid HTTP/HTTPS URL"),
        ({"url": 42}, "url must be a valid HTTP/HTTPS URL"),
    ],
)
def test_test_send_validation(api, body, message):
    response = api.post(f"{EVENTS}/test", body, format="json")
    assert response.status_code == 400
    assert response.json() == {"error": "BAD_REQUEST", "message": message}


def test_test_send_refuses_private_targets_unless_allowed(settings, api, receiver):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    response = api.post(f"{EVENTS}/test", {"url": receiver.url}, format="json")
    assert response.status_code == 400
    assert response.json()["message"] == "url cannot be called: target resolves to a non-public address"
    assert receiver.requests == []


def test_test_mode_key_test_send_uses_the_test_key(test_api, receiver):
    response = test_api.post(f"{EVENTS}/test", {"url": receiver.url}, format="json")
    assert response.status_code == 200
    [request] = receiver.requests
    expected = hmac.new(test_api.raw_key.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Webhook-Signature"] == expected
    assert test_api.api_key.environment == ApiKey.Environment.TEST


# --- ordering fields -------------------------------------------------------------------------


def test_sequence_increases_per_session_and_updated_at_follows_the_session(make_session):
    session = make_session("https://hooks.example/kyc")
    other_session = make_session("https://hooks.example/kyc")
    first = json.loads(bytes(record(session, Event.Kind.SESSION_COMPLETED).body))
    second = json.loads(bytes(record(session, Event.Kind.SESSION_EXPIRED).body))
    elsewhere = json.loads(bytes(record(other_session).body))

    assert (first["sequence"], second["sequence"], elsewhere["sequence"]) == (1, 2, 1)
    session.refresh_from_db()
    assert session.event_sequence == 2
    assert first["data"]["updated_at"] == second["data"]["updated_at"]
    assert first["data"]["updated_at"].endswith("Z")


def test_sequence_survives_the_purge_of_earlier_events(make_session):
    session = make_session("https://hooks.example/kyc")
    record(session, Event.Kind.SESSION_COMPLETED)
    Event.objects.update(created_at=timezone.now() - timedelta(days=40))
    events_purge_expired()
    later = json.loads(bytes(record(session, Event.Kind.SESSION_EXPIRED).body))
    assert later["sequence"] == 2


def test_real_flow_event_carries_sequence_and_updated_at(make_session):
    session = make_session("https://hooks.example/kyc", status="pending", result=None)
    session, changed = session_expire(session=session)
    assert changed
    event = Event.objects.get(session=session)
    body = json.loads(bytes(event.body))
    session = KycSession.objects.get(pk=session.pk)
    assert body["sequence"] == 1
    assert body["data"]["updated_at"] == iso_utc(session.updated_at)


def test_unauthenticated_is_401(anon_api):
    assert anon_api.get(EVENTS).status_code == 401
    assert anon_api.post(f"{EVENTS}/redeliver", {}, format="json").status_code == 401
    assert anon_api.post(f"{EVENTS}/test", {"url": "https://x.example"}, format="json").status_code == 401
