"""Delivery against real local HTTP receivers: signatures, retries, 410, redirects,
timeouts, attempt records, resend, the sweep."""

import hashlib
import hmac
import json
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from clients.services import client_rotate_webhook_secret, client_webhook_secret
from kyc.services import session_event_record as event_record
from webhooks import services, tasks
from webhooks.models import Attempt, Delivery, Event
from webhooks.services import delivery_attempt, delivery_resend
from webhooks.tasks import sweep_due_deliveries

from .conftest import create_session

pytestmark = pytest.mark.django_db


def record(session, kind=Event.Kind.SESSION_COMPLETED):
    event = event_record(session=session, kind=kind)
    return event, Delivery.objects.get(event=event)


def make_due(delivery):
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def test_both_signatures_verify(acme, acme_key, make_session, receiver, example_receiver):
    session = make_session(receiver.url)
    event, delivery = record(session)

    assert delivery_attempt(delivery_id=delivery.pk) == Delivery.State.DELIVERED

    [request] = receiver.requests
    headers, body = request.headers, request.body
    assert body == bytes(event.body)
    assert headers["Content-Type"] == "application/json"
    assert "TrueStack" in headers["User-Agent"]
    assert headers["X-TrueStack-Event"] == "kyc.session.completed"
    assert headers["X-TrueStack-Delivery"] == str(delivery.pk)
    assert headers["webhook-id"] == str(event.id)
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60

    raw_key = acme_key[1]
    secret = client_webhook_secret(client=acme)
    expected = hmac.new(raw_key.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Webhook-Signature"] == expected
    # The example receiver (documented for clients) accepts it, both ways at once.
    assert example_receiver.verify(headers, body, api_key=raw_key)
    assert example_receiver.verify(headers, body, whsec=secret)
    assert example_receiver.verify(headers, body, api_key=raw_key, whsec=secret)
    # And the standardwebhooks library does too.
    assert Webhook(secret).verify(body, headers)["id"] == str(event.id)

    # Any change is caught.
    tampered = body.replace(b"approved", b"rejected")
    assert not example_receiver.verify(headers, tampered, api_key=raw_key)
    assert not example_receiver.verify(headers, tampered, whsec=secret)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(tampered, headers)
    assert not example_receiver.verify(headers, body, api_key=raw_key + "x")
    other_secret = client_rotate_webhook_secret(client=acme)
    assert not example_receiver.verify(headers, body, whsec=other_secret)


def test_example_receiver_refuses_a_replayed_old_timestamp(acme, acme_key, make_session, receiver, example_receiver):
    event, delivery = record(make_session(receiver.url))
    delivery_attempt(delivery_id=delivery.pk)
    [request] = receiver.requests
    secret = client_webhook_secret(client=acme)
    later = int(request.headers["webhook-timestamp"]) + 10 * 60
    assert example_receiver.verify_standard_webhooks(request.headers, request.body, secret, now=later) is False
    # The contract signature itself has no timestamp: that is why both are sent.
    assert example_receiver.verify(request.headers, request.body, api_key=acme_key[1])


def test_signature_uses_the_key_that_created_the_session(acme, make_api_key, make_session, receiver, example_receiver):
    other_key, other_raw = make_api_key(acme)
    event, delivery = record(make_session(receiver.url, api_key=other_key))
    delivery_attempt(delivery_id=delivery.pk)
    [request] = receiver.requests
    assert example_receiver.verify(request.headers, request.body, api_key=other_raw)


def test_fails_twice_then_200_sends_the_same_bytes_three_times(make_session, make_receiver):
    receiver = make_receiver([500, (503, b"busy")], default=200)
    event, delivery = record(make_session(receiver.url))

    assert delivery_attempt(delivery_id=delivery.pk) == Delivery.State.RETRYING
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.RETRYING
    assert delivery.next_attempt_at > timezone.now()
    assert delivery.locked_until is None
    assert delivery.last_error == "HTTP 500"
    # Not due yet: a second copy of the task does nothing.
    assert delivery_attempt(delivery_id=delivery.pk) == "skipped"
    assert len(receiver.requests) == 1

    make_due(delivery)
    assert delivery_attempt(delivery_id=delivery.pk) == Delivery.State.RETRYING
    make_due(delivery)
    assert delivery_attempt(delivery_id=delivery.pk) == Delivery.State.DELIVERED

    bodies = [r.body for r in receiver.requests]
    assert bodies == [bytes(event.body)] * 3
    assert {r.headers["webhook-id"] for r in receiver.requests} == {str(event.id)}
    assert len({r.headers["X-Webhook-Signature"] for r in receiver.requests}) == 1

    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.DELIVERED
    assert delivery.attempt_count == 3
    assert delivery.delivered_at is not None
    assert delivery.next_attempt_at is None
    attempts = list(delivery.attempts.order_by("number"))
    assert [(a.number, a.status_code) for a in attempts] == [(1, 500), (2, 503), (3, 200)]
    assert attempts[1].response_excerpt == "busy"
    assert attempts[2].error == ""
    # Delivered is final for the scheduler.
    make_due(delivery)
    assert delivery_attempt(delivery_id=delivery.pk) == "skipped"


def test_410_gone_stops_retrying(make_session, make_receiver):
    receiver = make_receiver([410])
    event, delivery = record(make_session(receiver.url))
    assert delivery_attempt(delivery_id=delivery.pk) == Delivery.State.FAILED
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.FAILED
    assert delivery.next_attempt_at is None
    assert "410" in delivery.last_error
    make_due(delivery)
    assert services.deliveries_sweep() == []
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirects_are_not_followed(make_session, make_receiver, status):
    target = make_receiver()
    receiver = make_receiver([("redirect", status, target.url)])
    event, delivery = record(make_session(receiver.url))
    assert delivery_attempt(delivery_id=delivery.pk) == Delivery.State.RETRYING
    assert len(receiver.requests) == 1
    assert target.requests == []
    attempt = Attempt.objects.get(delivery=delivery)
    assert attempt.status_code == status
    assert "redirect" in attempt.error


@pytest.mark.parametrize("status", [400, 401, 404, 429, 500, 502])
def test_other_answers_are_retried(make_session, make_receiver, status):
    receiver = make_receiver([status])
    event, delivery = record(make_session(receiver.url))
    assert delivery_attempt(delivery_id=delivery.pk) == Delivery.State.RETRYING


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_any_2xx_is_success(make_session, make_receiver, status):
    receiver = make_receiver([(status, b"")])
    event, delivery = record(make_session(receiver.url))
    assert delivery_attempt(delivery_id=delivery.pk) == Delivery.State.DELIVERED


def test_read_timeout_is_a_retried_failure(fast_timeouts, make_session, make_receiver):
    receiver = make_receiver([("hang", 5)])
    event, delivery = record(make_session(receiver.url))
    started = time.monotonic()
    assert delivery_attempt(delivery_id=delivery.pk) == Delivery.State.RETRYING
    assert time.monotonic() - started < 3
    attempt = Attempt.objects.get(delivery=delivery)
    assert attempt.status_code is None
    assert "read timeout" in attempt.error
    assert attempt.duration_ms >= 400


def test_connection_refused_is_a_retried_failure(make_session, make_receiver):
    receiver = make_receiver()
    url = receiver.url
    receiver.stop()
    event, delivery = record(make_session(url))
    assert delivery_attempt(delivery_id=delivery.pk) == Delivery.State.RETRYING
    assert "connection" in Attempt.objects.get(delivery=delivery).error


def test_attempt_records_status_duration_and_first_kilobyte(make_session, make_receiver):
    receiver = make_receiver([(500, b"E" * 5000)])
    event, delivery = record(make_session(receiver.url))
    before = timezone.now()
    delivery_attempt(delivery_id=delivery.pk)
    attempt = Attempt.objects.get(delivery=delivery)
    assert attempt.number == 1
    assert attempt.status_code == 500
    assert attempt.duration_ms is not None and attempt.duration_ms >= 0
    assert before - timedelta(seconds=1) <= attempt.started_at <= timezone.now()
    assert attempt.response_excerpt == "E" * 1024


def test_gives_up_after_max_attempts(settings, make_session, make_receiver):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    receiver = make_receiver(default=500)
    event, delivery = record(make_session(receiver.url))
    outcomes = []
    for _ in range(3):
        make_due(delivery)
        outcomes.append(delivery_attempt(delivery_id=delivery.pk))
    assert outcomes == ["retrying", "retrying", "failed"]
    make_due(delivery)
    assert delivery_attempt(delivery_id=delivery.pk) == "skipped"
    assert len(receiver.requests) == 3


def test_resend_delivers_again_with_the_same_bytes(make_session, receiver, django_capture_on_commit_callbacks):
    event, delivery = record(make_session(receiver.url))
    assert delivery_attempt(delivery_id=delivery.pk) == "delivered"

    with django_capture_on_commit_callbacks() as callbacks:
        resent = delivery_resend(delivery=delivery)
    assert len(callbacks) == 1
    assert resent.state == Delivery.State.PENDING
    assert resent.locked_until is None
    assert resent.next_attempt_at <= timezone.now()

    assert delivery_attempt(delivery_id=delivery.pk) == "delivered"
    assert [r.body for r in receiver.requests] == [bytes(event.body)] * 2
    delivery.refresh_from_db()
    assert delivery.attempt_count == 2


def test_resend_of_a_failed_delivery_gets_an_attempt_past_the_limit(settings, make_session, make_receiver):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    receiver = make_receiver([500, 500], default=200)
    event, delivery = record(make_session(receiver.url))
    delivery_attempt(delivery_id=delivery.pk)
    make_due(delivery)
    assert delivery_attempt(delivery_id=delivery.pk) == "failed"

    delivery_resend(delivery=delivery)
    assert delivery_attempt(delivery_id=delivery.pk) == "delivered"
    delivery.refresh_from_db()
    assert delivery.attempt_count == 3
    assert delivery.state == Delivery.State.DELIVERED


def test_resend_of_a_failed_delivery_that_fails_again_stays_failed(settings, make_session, make_receiver):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    receiver = make_receiver(default=500)
    event, delivery = record(make_session(receiver.url))
    assert delivery_attempt(delivery_id=delivery.pk) == "failed"
    delivery_resend(delivery=delivery)
    assert delivery_attempt(delivery_id=delivery.pk) == "failed"
    assert len(receiver.requests) == 2


def test_task_wrappers_call_the_services(make_session, receiver):
    event, delivery = record(make_session(receiver.url))
    assert tasks.deliver(str(delivery.pk)) == "delivered"
    assert tasks.deliver.queue == "webhooks"
    assert tasks.deliver.acks_late is True
    assert tasks.deliver(str(delivery.pk)) == "skipped"


def test_example_receiver_server_dedupes_by_event_id(acme, acme_key, make_api_key, make_session, example_receiver):
    from .conftest import bind_server

    seen = set()
    server = bind_server(example_receiver.make_handler(acme_key[1], client_webhook_secret(client=acme), seen))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        event, delivery = record(make_session(url))
        assert delivery_attempt(delivery_id=delivery.pk) == "delivered"
        delivery_resend(delivery=delivery)
        assert delivery_attempt(delivery_id=delivery.pk) == "delivered"
        assert seen == {str(event.id)}
        assert Attempt.objects.filter(delivery=delivery, response_excerpt="duplicate ignored").count() == 1

        # A request signed with a key the receiver does not hold is refused with 401.
        other_key, _ = make_api_key(acme)
        other_event, other_delivery = record(create_session(client=acme, api_key=other_key, webhook_url=url))
        assert delivery_attempt(delivery_id=other_delivery.pk) == "retrying"
        assert Attempt.objects.get(delivery=other_delivery).status_code == 401
    finally:
        server.shutdown()
        server.server_close()


# --- the sweep and the lease ----------------------------------------------------------


def test_sweep_queues_due_unleased_deliveries_once(make_session, django_capture_on_commit_callbacks):
    now = timezone.now()
    due_event, due = record(make_session("https://hooks.example.com/a"))
    _, future = record(make_session("https://hooks.example.com/b"))
    _, leased = record(make_session("https://hooks.example.com/c"))
    _, done = record(make_session("https://hooks.example.com/d"))
    Delivery.objects.update(enqueued_at=None)
    Delivery.objects.filter(pk=due.pk).update(next_attempt_at=now - timedelta(minutes=5))
    Delivery.objects.filter(pk=future.pk).update(state="retrying", next_attempt_at=now + timedelta(minutes=5))
    Delivery.objects.filter(pk=leased.pk).update(next_attempt_at=now, locked_until=now + timedelta(minutes=1))
    Delivery.objects.filter(pk=done.pk).update(state="delivered", next_attempt_at=now - timedelta(minutes=5))

    with django_capture_on_commit_callbacks() as callbacks:
        assert services.deliveries_sweep() == [due.pk]
    assert len(callbacks) == 1
    # Already waiting on the broker: not queued again right away...
    assert services.deliveries_sweep() == []
    # ...but again once that has been too long (the message was lost).
    Delivery.objects.filter(pk=due.pk).update(enqueued_at=now - timedelta(minutes=5))
    assert services.deliveries_sweep() == [due.pk]


def test_sweep_works_in_small_batches_oldest_first(settings, make_session):
    settings.WEBHOOK_SWEEP_BATCH_SIZE = 2
    now = timezone.now()
    deliveries = [record(make_session(f"https://hooks.example.com/{i}"))[1] for i in range(3)]
    Delivery.objects.update(enqueued_at=None)
    for age, delivery in zip((1, 3, 2), deliveries):
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=now - timedelta(minutes=age))
    assert services.deliveries_sweep() == [deliveries[1].pk, deliveries[2].pk]
    assert services.deliveries_sweep() == [deliveries[0].pk]
    assert sweep_due_deliveries() == 0


def test_worker_lost_mid_attempt_lease_lapses_and_sweep_recovers(make_session, receiver):
    event, delivery = record(make_session(receiver.url))
    # A worker claims the delivery and dies before sending (or while waiting for the answer).
    claim = services._claim(delivery_id=delivery.pk)
    assert claim is not None
    assert delivery_attempt(delivery_id=delivery.pk) == "skipped"  # the lease holds
    assert services.deliveries_sweep() == []

    Delivery.objects.filter(pk=delivery.pk).update(locked_until=timezone.now() - timedelta(seconds=1))
    assert services.deliveries_sweep() == [delivery.pk]
    assert delivery_attempt(delivery_id=delivery.pk) == "delivered"

    attempts = list(delivery.attempts.order_by("number"))
    assert [a.number for a in attempts] == [1, 2]
    assert attempts[0].error.startswith("interrupted")
    assert attempts[1].status_code == 200
    assert len(receiver.requests) == 1


def test_lease_covers_the_timeouts(settings):
    settings.WEBHOOK_CONNECT_TIMEOUT = 3
    settings.WEBHOOK_READ_TIMEOUT = 10
    assert services.lease_seconds() > 13


def test_claim_is_a_single_winner(make_session):
    event, delivery = record(make_session("https://hooks.example.com/a"))
    assert services._claim(delivery_id=delivery.pk) is not None
    assert services._claim(delivery_id=delivery.pk) is None
    assert Attempt.objects.filter(delivery=delivery).count() == 1


# --- isolation between receivers --------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_slow_receiver_does_not_block_a_healthy_one(
    fast_timeouts, acme, acme_key, make_client, make_api_key, make_receiver
):
    slow = make_receiver(default=("hang", 5))
    healthy = make_receiver()
    other = make_client(code="OTHER")
    other_key, _ = make_api_key(other)
    _, slow_delivery = record(create_session(client=acme, api_key=acme_key[0], webhook_url=slow.url))
    _, healthy_delivery = record(create_session(client=other, api_key=other_key, webhook_url=healthy.url))

    results, finished_at = {}, {}

    def run(name, delivery):
        try:
            results[name] = delivery_attempt(delivery_id=delivery.pk)
            finished_at[name] = time.monotonic()
        finally:
            connection.close()

    started = time.monotonic()
    slow_thread = threading.Thread(target=run, args=("slow", slow_delivery))
    slow_thread.start()
    assert slow.got_request.wait(5)
    healthy_thread = threading.Thread(target=run, args=("healthy", healthy_delivery))
    healthy_thread.start()
    healthy_thread.join(5)
    slow_thread.join(5)

    assert results == {"slow": "retrying", "healthy": "delivered"}
    assert finished_at["healthy"] < finished_at["slow"]
    # The slow one is bounded by the read timeout, not by the receiver.
    assert finished_at["slow"] - started < 3
    attempt = Attempt.objects.get(delivery=slow_delivery)
    assert "read timeout" in attempt.error


def test_sent_body_is_what_was_stored(make_session, receiver):
    event, delivery = record(make_session(receiver.url))
    delivery_attempt(delivery_id=delivery.pk)
    payload = json.loads(receiver.requests[0].body)
    assert payload["id"] == str(event.id)
    assert payload["data"]["ocr_data"]["ic_number"] == "900101015555"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_copies_of_the_task_send_once(acme, acme_key, make_receiver):
    receiver = make_receiver()
    _, delivery = record(create_session(client=acme, api_key=acme_key[0], webhook_url=receiver.url))
    barrier = threading.Barrier(6)
    outcomes = []

    def run():
        try:
            barrier.wait(5)
            outcomes.append(delivery_attempt(delivery_id=delivery.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(outcomes) == ["delivered"] + ["skipped"] * 5
    assert len(receiver.requests) == 1
    assert Attempt.objects.filter(delivery=delivery).count() == 1
