"""On PostgreSQL an attempt claims its delivery with one call of truestack_delivery_claim
and records its outcome with one call of truestack_delivery_finish (webhooks/0006).
Each writes what the statement-by-statement way (SQLite's) writes, which these tests
run side by side on the same database."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.core import mail
from django.core.cache import cache
from django.db import close_old_connections, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kyc.services import session_event_record
from truestack import outbound
from webhooks import services
from webhooks.models import Attempt, Delivery, EndpointHealth, Event
from webhooks.selectors import hour_key

pytestmark = pytest.mark.postgres

CLAIMS = {"one call": services._claim_in_one_call, "statement by statement": services._claim_statement_by_statement}
FINISHES = {
    "one call": services._finish_in_one_call,
    "statement by statement": services._finish_statement_by_statement,
}
DELIVERY_FIELDS = ("state", "attempt_count", "locked_until", "enqueued_at", "next_attempt_at", "last_attempt_at")
AFTER_FIELDS = ("state", "delivered_at", "next_attempt_at", "locked_until", "last_error", "updated_at")
ATTEMPT_FIELDS = ("number", "started_at", "duration_ms", "status_code", "error", "response_excerpt")
HEALTH_FIELDS = ("hourly", "consecutive_failures", "first_failure_at", "last_success_at", "last_attempt_at")


def delivery_for(session) -> Delivery:
    event = session_event_record(session=session, kind=Event.Kind.SESSION_COMPLETED)
    return Delivery.objects.get(event=event)


def row(delivery: Delivery, fields=DELIVERY_FIELDS) -> list:
    delivery.refresh_from_db()
    return [getattr(delivery, name) for name in fields]


def attempts(delivery: Delivery) -> list[list]:
    return [
        [getattr(a, name) for name in ATTEMPT_FIELDS]
        for a in Attempt.objects.filter(delivery=delivery).order_by("number")
    ]


@pytest.fixture
def pair(make_session, receiver):
    """One delivery for each way, of the same client, due now."""

    def _pair():
        deliveries = {way: delivery_for(make_session(receiver.url)) for way in CLAIMS}
        due = timezone.now() - timedelta(seconds=1)
        Delivery.objects.filter(pk__in=[d.pk for d in deliveries.values()]).update(next_attempt_at=due)
        return deliveries

    return _pair


@pytest.mark.django_db
def test_a_claim_takes_the_lease_and_starts_attempt_one_either_way(pair):
    deliveries, now = pair(), timezone.now()
    lease_until = now + timedelta(seconds=30)
    rows = {}
    for way, claim in CLAIMS.items():
        delivery, attempt = claim(delivery_id=deliveries[way].pk, now=now, lease_until=lease_until)
        assert (delivery.pk, delivery.attempt_count, attempt.number) == (deliveries[way].pk, 1, 1)
        assert Attempt.objects.get(pk=attempt.pk).delivery_id == delivery.pk
        rows[way] = (row(deliveries[way]), attempts(deliveries[way]))
    assert rows["one call"] == rows["statement by statement"]
    assert rows["one call"][0][:4] == [Delivery.State.PENDING, 1, lease_until, None]
    assert rows["one call"][1] == [[1, now, None, None, "", ""]]


@pytest.mark.django_db
def test_a_claim_in_one_call_is_one_statement(pair):
    delivery = pair()["one call"]
    now = timezone.now()
    with CaptureQueriesContext(connection) as queries:
        services._claim_in_one_call(delivery_id=delivery.pk, now=now, lease_until=now + timedelta(seconds=30))
    sql = [q["sql"] for q in queries.captured_queries]
    # The claim, then the read of what to send (after the claim's commit).
    assert len(sql) == 2 and "truestack_delivery_claim" in sql[0]


@pytest.mark.django_db
def test_a_leased_or_finished_delivery_is_not_claimed_either_way(pair):
    now = timezone.now()
    for way, claim in CLAIMS.items():
        leased, done = pair()[way], pair()[way]
        Delivery.objects.filter(pk=leased.pk).update(locked_until=now + timedelta(seconds=30), attempt_count=1)
        Delivery.objects.filter(pk=done.pk).update(state=Delivery.State.DELIVERED)
        for delivery in (leased, done):
            before = row(delivery)
            assert claim(delivery_id=delivery.pk, now=now, lease_until=now + timedelta(seconds=30)) is None, way
            assert row(delivery) == before and attempts(delivery) == []


@pytest.mark.django_db
def test_an_unknown_delivery_is_skipped_either_way():
    now = timezone.now()
    for claim in CLAIMS.values():
        assert claim(delivery_id="00000000-0000-0000-0000-000000000001", now=now, lease_until=now) is None


@pytest.mark.django_db
def test_a_lapsed_lease_marks_the_lost_attempt_interrupted_either_way(pair):
    deliveries, now = pair(), timezone.now()
    rows = {}
    for way, claim in CLAIMS.items():
        delivery = deliveries[way]
        Delivery.objects.filter(pk=delivery.pk).update(locked_until=now - timedelta(seconds=1), attempt_count=1)
        Attempt.objects.create(delivery=delivery, number=1, started_at=now - timedelta(seconds=60))
        claimed, attempt = claim(delivery_id=delivery.pk, now=now, lease_until=now + timedelta(seconds=30))
        assert attempt.number == 2 and claimed.attempt_count == 2
        rows[way] = [a[1:] for a in attempts(delivery)]
    assert rows["one call"] == rows["statement by statement"]
    assert rows["one call"][0][3] == services.INTERRUPTED


@pytest.mark.django_db
def test_over_the_cap_the_delivery_is_put_back_uncounted_either_way(settings, acme, pair):
    settings.WEBHOOK_MAX_IN_FLIGHT_PER_CLIENT = 2
    settings.WEBHOOK_CLIENT_BUSY_DELAY_SECONDS = 5
    now = timezone.now()
    busy = pair()
    Delivery.objects.filter(pk__in=[d.pk for d in busy.values()]).update(
        locked_until=now + timedelta(seconds=30), attempt_count=1
    )
    deliveries = pair()
    rows = {}
    for way, claim in CLAIMS.items():
        cache.delete(services._waiting_marker(acme.pk))
        assert claim(delivery_id=deliveries[way].pk, now=now, lease_until=now + timedelta(seconds=30)) == "deferred"
        assert cache.get(services._waiting_marker(acme.pk)), way
        rows[way] = (row(deliveries[way]), attempts(deliveries[way]))
    assert rows["one call"] == rows["statement by statement"]
    assert rows["one call"] == ([Delivery.State.PENDING, 0, None, None, now + timedelta(seconds=5), None], [])


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_in_one_call_keep_the_cap_exact(settings, make_session, receiver):
    settings.WEBHOOK_MAX_IN_FLIGHT_PER_CLIENT = 3
    deliveries = [delivery_for(make_session(receiver.url)) for _ in range(10)]
    now = timezone.now()

    def claim(delivery):
        try:
            outcome = services._claim_in_one_call(
                delivery_id=delivery.pk, now=now, lease_until=now + timedelta(seconds=30)
            )
            return "claimed" if isinstance(outcome, tuple) else outcome
        finally:
            close_old_connections()
            connection.close()

    with ThreadPoolExecutor(max_workers=10) as pool:
        outcomes = list(pool.map(claim, deliveries))
    assert sorted(outcomes).count("claimed") == 3 and outcomes.count("deferred") == 7
    assert Delivery.objects.filter(locked_until__gte=now).count() == 3
    assert Attempt.objects.count() == 3


LEASE = timedelta(seconds=30)


def claimed(deliveries, now):
    return {way: CLAIMS[way](delivery_id=deliveries[way].pk, now=now, lease_until=now + LEASE) for way in CLAIMS}


def finish_both(claims, *, result, state, next_at=None, finished, lease_until):
    updated = {}
    for way, (delivery, attempt) in claims.items():
        error = "" if result.ok else services._error_text(result)
        updated[way] = FINISHES[way](
            outcome=services._Outcome(
                delivery=delivery,
                attempt=attempt,
                result=result,
                error=error,
                state=state,
                next_at=next_at,
                lease_until=lease_until,
                finished=finished,
            )
        )
    return updated


def delivered_in_one_call(deliveries, now) -> Delivery:
    """One of the pair claimed and recorded as delivered, the PostgreSQL way."""
    delivery, attempt = CLAIMS["one call"](delivery_id=deliveries["one call"].pk, now=now, lease_until=now + LEASE)
    ok = outbound.OutboundResult(status_code=200, duration_ms=5)
    assert finish_both(
        {"one call": (delivery, attempt)},
        result=ok,
        state=Delivery.State.DELIVERED,
        finished=now,
        lease_until=now + LEASE,
    ) == {"one call": True}
    return delivery


def health(acme, receiver) -> list:
    record = EndpointHealth.objects.get(client=acme, host=services.endpoint_host(receiver.url))
    return [getattr(record, name) for name in HEALTH_FIELDS]


@pytest.mark.django_db
def test_a_success_is_recorded_alike_and_counted_in_the_hosts_health(acme, pair, receiver):
    now = timezone.now()
    host = services.endpoint_host(receiver.url)
    stale = hour_key(now - timedelta(hours=30))
    EndpointHealth.objects.create(
        client=acme, host=host, hourly={stale: [5, 5], hour_key(now): [3, 1]}, consecutive_failures=2
    )
    finished = now + timedelta(seconds=1)
    ok = outbound.OutboundResult(status_code=200, duration_ms=12, excerpt="ok")
    seen = {}
    for way in CLAIMS:
        claims = claimed(pair(), now)
        one = {way: claims[way]}
        with CaptureQueriesContext(connection) as queries:
            assert finish_both(
                one, result=ok, state=Delivery.State.DELIVERED, finished=finished, lease_until=now + LEASE
            ) == {way: True}
        delivery = claims[way][0]
        seen[way] = (row(delivery, AFTER_FIELDS), attempts(delivery), [q["sql"] for q in queries.captured_queries])
    assert seen["one call"][:2] == seen["statement by statement"][:2]
    assert seen["one call"][0] == [Delivery.State.DELIVERED, finished, None, None, "", finished]
    assert seen["one call"][1] == [[1, now, 12, 200, "", "ok"]]
    assert len(seen["one call"][2]) == 1, seen["one call"][2]  # attempt, delivery and health in one statement
    # Counted twice (once each way), the hour older than the window dropped.
    assert health(acme, receiver) == [{hour_key(now): [5, 3]}, 0, None, finished, finished]


@pytest.mark.django_db
def test_a_first_success_to_a_host_creates_its_health_the_long_way(acme, pair, receiver):
    now = timezone.now()
    delivery = delivered_in_one_call(pair(), now)
    assert health(acme, receiver) == [{hour_key(now): [1, 1]}, 0, None, now, now]
    assert Delivery.objects.get(pk=delivery.pk).state == Delivery.State.DELIVERED


@pytest.mark.django_db
def test_a_success_after_an_alert_tells_the_client_it_recovered(acme, pair, receiver):
    acme.contact_email = "tech@acme.example"
    acme.save(update_fields=["contact_email"])
    now = timezone.now()
    EndpointHealth.objects.create(
        client=acme,
        host=services.endpoint_host(receiver.url),
        consecutive_failures=40,
        first_failure_at=now - timedelta(hours=2),
        alerted_at=now - timedelta(hours=1),
        last_error="HTTP 500",
    )
    delivered_in_one_call(pair(), now)
    record = EndpointHealth.objects.get(client=acme)
    assert (record.alerted_at, record.consecutive_failures, record.last_error) == (None, 0, "")
    assert len(mail.outbox) == 1 and "delivered again" in mail.outbox[0].subject


@pytest.mark.django_db
def test_a_failure_is_recorded_alike_and_a_superseded_one_changes_nothing(acme, pair, receiver):
    now = timezone.now()
    finished = now + timedelta(seconds=2)
    retry_at = finished + timedelta(seconds=30)
    failed = outbound.OutboundResult(status_code=503, duration_ms=40, excerpt="busy")
    claims = claimed(pair(), now)
    assert finish_both(
        claims,
        result=failed,
        state=Delivery.State.RETRYING,
        next_at=retry_at,
        finished=finished,
        lease_until=now + LEASE,
    ) == {"one call": True, "statement by statement": True}
    rows = {way: (row(d, AFTER_FIELDS), attempts(d)) for way, (d, _) in claims.items()}
    assert rows["one call"] == rows["statement by statement"]
    assert rows["one call"][0] == [Delivery.State.RETRYING, None, retry_at, None, "HTTP 503", finished]
    assert health(acme, receiver)[1:3] == [2, finished]

    # The lease lapsed and another attempt took it: the late failure is not the outcome.
    later = finished + timedelta(minutes=1)
    claims = claimed(pair(), now)
    for delivery, _ in claims.values():
        Delivery.objects.filter(pk=delivery.pk).update(locked_until=later + timedelta(seconds=30))
    assert finish_both(
        claims,
        result=failed,
        state=Delivery.State.RETRYING,
        next_at=retry_at,
        finished=later,
        lease_until=now + LEASE,
    ) == {"one call": False, "statement by statement": False}
    for delivery, _ in claims.values():
        assert row(delivery, AFTER_FIELDS)[0] == Delivery.State.PENDING


@pytest.mark.django_db
def test_a_health_record_that_cannot_be_counted_never_undoes_the_delivery(acme, pair, receiver, caplog):
    now = timezone.now()
    EndpointHealth.objects.create(client=acme, host=services.endpoint_host(receiver.url), hourly=["not", "hours"])
    delivery = delivered_in_one_call(pair(), now)
    assert row(delivery, AFTER_FIELDS)[:2] == [Delivery.State.DELIVERED, now]
    assert attempts(delivery)[0][3] == 200
    assert "endpoint health" in caplog.text  # the long way logged it and went on


@pytest.mark.django_db
def test_a_delivered_attempt_is_three_statements(acme, make_session, receiver):
    """Claim, read what to send, record; the first attempt to a host also creates its health row."""
    first, second = (delivery_for(make_session(receiver.url)) for _ in range(2))
    assert services.delivery_attempt(delivery_id=first.pk) == Delivery.State.DELIVERED
    with CaptureQueriesContext(connection) as queries:
        assert services.delivery_attempt(delivery_id=second.pk) == Delivery.State.DELIVERED
    sql = [q["sql"] for q in queries.captured_queries]
    assert len(sql) == 3, sql
    assert "truestack_delivery_claim" in sql[0] and "truestack_delivery_finish" in sql[2]
    hourly = health(acme, receiver)[0]
    assert [sum(counts) for counts in zip(*hourly.values(), strict=True)] == [2, 2]  # tried, succeeded
