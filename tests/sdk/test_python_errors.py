"""Every error class of the Python library, provoked for real against a live TrueStack,
and the retry policy seen from the outside (waits recorded by an injected sleep)."""

import time

import pytest
import truestack_sdk

from clients.models import ApiKey
from kyc import idempotency
from kyc.idempotency import request_fingerprint
from kyc.models import IdempotencyRecord, KycSession

pytestmark = pytest.mark.django_db(transaction=True)

BODY = dict(
    document_name="Ahmad bin Abdullah",
    document_number="901234-56-7890",
    webhook_url="https://yourapp.example/webhooks/kyc",
)


def test_401_bad_key(make_sdk):
    ts = make_sdk("ts_live_not-a-real-key")
    with pytest.raises(truestack_sdk.AuthenticationError) as caught:
        ts.sessions.get("550e8400-e29b-41d4-a716-446655440000")
    error = caught.value
    assert (error.status, error.code) == (401, "UNAUTHORIZED")
    assert error.message == error.body["message"] and error.body["error"] == "UNAUTHORIZED"
    assert isinstance(error, truestack_sdk.TrueStackError)
    assert ts.sleep == []  # never retried


def test_400_bad_input(make_sdk, test_key):
    ts = make_sdk(test_key)
    with pytest.raises(truestack_sdk.ValidationError) as caught:
        ts.sessions.create(**dict(BODY, document_number="12"))
    assert caught.value.status == 400 and caught.value.code == "BAD_REQUEST"
    assert caught.value.message == "document_number must be a 12-digit MyKad number (dashes and spaces are allowed)"
    with pytest.raises(truestack_sdk.ValidationError) as caught:
        list(ts.sessions.list(status="done"))
    assert caught.value.message == "status must be one of pending, processing, completed, expired"
    assert ts.sleep == []


def test_404_unknown_id_and_document(make_sdk, test_key):
    ts = make_sdk(test_key)
    with pytest.raises(truestack_sdk.NotFound) as caught:
        ts.sessions.get("550e8400-e29b-41d4-a716-446655440000")
    assert (caught.value.status, caught.value.code, caught.value.message) == (404, "NOT_FOUND", "Session not found")
    created = ts.sessions.create(**BODY)
    with pytest.raises(truestack_sdk.NotFound) as caught:
        ts.documents.download(created["id"], "front_document")
    assert caught.value.message == "Document not available"


def test_402_no_credits(make_sdk, acme, make_api_key):
    _, live_key = make_api_key(acme, environment=ApiKey.Environment.LIVE)
    ts = make_sdk(live_key)
    with pytest.raises(truestack_sdk.InsufficientCredits) as caught:
        ts.sessions.create(**BODY)
    error = caught.value
    assert (error.status, error.code) == (402, "INSUFFICIENT_CREDITS")
    assert error.balance == 0
    assert (error.available, error.required) == (0, 50)  # why it was refused: nothing available, 50 needed
    assert ts.sleep == []  # a 402 is not retried


def test_429_rate_limited_waits_retry_after_then_raises(make_sdk, test_key, settings, frozen_window):
    settings.API_RATE_LIMIT_PER_MINUTE = 2
    ts = make_sdk(test_key, max_retries=2)
    ts.sessions.create(**BODY)
    ts.sessions.create(**BODY)
    with pytest.raises(truestack_sdk.RateLimited) as caught:
        ts.sessions.create(**BODY)
    error = caught.value
    assert (error.status, error.code, error.retry_after) == (429, "RATE_LIMITED", 30.0)
    assert error.message == "Rate limit exceeded: 2 requests per minute; retry in 30 seconds"
    assert ts.sleep == [30.0, 30.0]  # Retry-After honoured on each retry
    assert KycSession.objects.count() == 2

    impatient = make_sdk(test_key, max_retries=5, max_retry_after=10)
    with pytest.raises(truestack_sdk.RateLimited):
        impatient.sessions.get(str(KycSession.objects.first().pk))
    assert impatient.sleep == []  # a wait longer than max_retry_after is not taken


def test_429_concurrent_session_limit(make_sdk, acme, test_key, settings):
    settings.MAX_OPEN_TEST_SESSIONS = 1  # test sessions have their own cap
    ts = make_sdk(test_key, max_retries=0)
    ts.sessions.create(**BODY)
    with pytest.raises(truestack_sdk.ConcurrentSessionLimit) as caught:
        ts.sessions.create(**BODY)
    assert (caught.value.status, caught.value.code, caught.value.retry_after) == (
        429,
        "CONCURRENT_SESSION_LIMIT",
        60.0,
    )


def test_422_idempotency_key_reused(make_sdk, test_key):
    ts = make_sdk(test_key)
    ts.sessions.create(**BODY, idempotency_key="order-1")
    with pytest.raises(truestack_sdk.IdempotencyError) as caught:
        ts.sessions.create(**dict(BODY, document_name="Siti binti Ali"), idempotency_key="order-1")
    assert (caught.value.status, caught.value.code) == (422, "IDEMPOTENCY_KEY_REUSED")
    assert ts.sleep == []


def test_409_idempotency_request_in_progress_is_retried_then_raised(make_sdk, acme, test_key, monkeypatch):
    # A first request with this key that has not answered yet (e.g. still waiting on the provider).
    IdempotencyRecord.objects.create(client=acme, key="order-2", request_hash=request_fingerprint(BODY))
    monkeypatch.setattr(idempotency, "WAIT_FOR_FIRST_SECONDS", 0.2)
    ts = make_sdk(test_key, max_retries=2)
    with pytest.raises(truestack_sdk.IdempotencyError) as caught:
        ts.sessions.create(**BODY, idempotency_key="order-2")
    assert (caught.value.status, caught.value.code) == (409, "IDEMPOTENCY_REQUEST_IN_PROGRESS")
    assert len(ts.sleep) == 2  # retried with backoff, same key
    assert KycSession.objects.count() == 0


def test_502_provider_error_retried_with_backoff(make_sdk, test_key, provider_down, settings):
    ts = make_sdk(test_key, max_retries=2, backoff_base=1.0, backoff_max=1.5)
    with pytest.raises(truestack_sdk.ProviderError) as caught:
        ts.sessions.create(**BODY)
    assert (caught.value.status, caught.value.code) == (502, "GATEWAY_ERROR")
    assert len(ts.sleep) == 2
    assert 0.5 <= ts.sleep[0] <= 1.0 and 0.75 <= ts.sleep[1] <= 1.5  # exponential, capped, jittered
    assert not KycSession.objects.exclude(status="failed").exists()


def test_network_error_after_bounded_retries(db):
    from .conftest import Sleeps

    ts = truestack_sdk.TrueStack("ts_test_x", base_url="http://127.0.0.1:9", max_retries=3, sleep=Sleeps())
    with pytest.raises(truestack_sdk.NetworkError) as caught:
        ts.sessions.get("550e8400-e29b-41d4-a716-446655440000")
    assert caught.value.status is None and caught.value.code == "NETWORK_ERROR"
    assert len(ts.sleep) == 3


def test_refresh_is_not_retried(make_sdk, test_key, settings, frozen_window):
    settings.API_RATE_LIMIT_PER_MINUTE = 1
    ts = make_sdk(test_key, max_retries=3)
    created = ts.sessions.create(**BODY)
    with pytest.raises(truestack_sdk.RateLimited):
        ts.sessions.refresh(created["id"])
    assert ts.sleep == []


@pytest.mark.postgres
def test_409_while_the_first_create_is_really_still_running(make_sdk, test_key, settings, monkeypatch):
    """Two concurrent creates with one key: the provider answers the first slowly, the
    second gets 409; once the first is done the same key replays its answer."""
    import threading

    settings.SANDBOX_LATENCY_MS = 1500
    monkeypatch.setattr(idempotency, "WAIT_FOR_FIRST_SECONDS", 0.2)
    first, second = make_sdk(test_key, max_retries=0), make_sdk(test_key, max_retries=0)
    outcome = {}
    thread = threading.Thread(
        target=lambda: outcome.update(created=first.sessions.create(**BODY, idempotency_key="order-3"))
    )
    thread.start()
    try:
        for _ in range(200):
            if IdempotencyRecord.objects.filter(key="order-3").exists():
                break
            time.sleep(0.01)
        with pytest.raises(truestack_sdk.IdempotencyError) as caught:
            second.sessions.create(**BODY, idempotency_key="order-3")
        assert (caught.value.status, caught.value.code) == (409, "IDEMPOTENCY_REQUEST_IN_PROGRESS")
    finally:
        thread.join(timeout=30)
    assert second.sessions.create(**BODY, idempotency_key="order-3") == outcome["created"]
    assert KycSession.objects.count() == 1
