"""No client can starve another: a wall-clock deadline on every attempt (a
receiver dripping its answer is cut off), a lease longer than that deadline, and
a per-client cap on attempts in flight (over it, a delivery waits, uncounted)."""

import socket
import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from kyc.services import session_event_record
from webhooks import services
from webhooks.models import Attempt, Delivery, Event
from webhooks.services import delivery_attempt

pytestmark = pytest.mark.django_db(transaction=True)

PORTS = range(47500, 47530)


class DrippingReceiver:
    """Reads the request, then sends its answer one byte every `interval` seconds."""

    ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Padding: " + b"x" * 200 + b"\r\n\r\n"

    def __init__(self, interval: float = 0.2):
        self.interval = interval
        self.finished = threading.Event()
        self.stop = threading.Event()
        self.listener = None
        for port in PORTS:
            try:
                self.listener = socket.create_server(("127.0.0.1", port))
                break
            except OSError:
                continue
        assert self.listener is not None, "no free port"
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def _serve(self):
        self.listener.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                try:
                    conn.recv(65536)
                    for byte in self.ANSWER:
                        if self.stop.is_set():
                            return
                        conn.sendall(bytes([byte]))
                        time.sleep(self.interval)
                    self.finished.set()
                except OSError:
                    continue  # we were cut off: the point of the test

    def close(self):
        self.stop.set()
        self.listener.close()
        self.thread.join(timeout=5)


@pytest.fixture
def dripping():
    receiver = DrippingReceiver()
    yield receiver
    receiver.close()


def _delivery_for(session) -> Delivery:
    event = session_event_record(session=session, kind=Event.Kind.SESSION_COMPLETED)
    return Delivery.objects.get(event=event)


def test_a_dripping_receiver_is_cut_off_at_the_attempt_deadline(settings, make_session, dripping):
    # Each byte arrives well within the read timeout, so only a wall-clock deadline ends the attempt
    # (the whole answer would take ~45 s).
    settings.WEBHOOK_READ_TIMEOUT = 2.0
    settings.WEBHOOK_ATTEMPT_DEADLINE_SECONDS = 1.5
    delivery = _delivery_for(make_session(dripping.url))

    assert delivery_attempt(delivery_id=delivery.pk) == Delivery.State.RETRYING

    attempt = Attempt.objects.get(delivery=delivery)
    assert "deadline exceeded" in attempt.error
    assert not dripping.finished.is_set()
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.RETRYING and delivery.locked_until is None


def test_the_lease_outlasts_the_attempt_deadline(settings, make_session, receiver):
    settings.WEBHOOK_ATTEMPT_DEADLINE_SECONDS = 15.0
    delivery = _delivery_for(make_session(receiver.url))
    claim = services._claim(delivery_id=delivery.pk)
    _, attempt, lease_until = claim
    assert (lease_until - attempt.started_at).total_seconds() > settings.WEBHOOK_ATTEMPT_DEADLINE_SECONDS


def test_a_client_over_its_in_flight_cap_waits_uncounted_while_others_are_delivered(
    settings, acme, acme_key, make_client, make_api_key, make_session, receiver
):
    settings.WEBHOOK_MAX_IN_FLIGHT_PER_CLIENT = 2
    settings.WEBHOOK_CLIENT_BUSY_DELAY_SECONDS = 5
    busy = [_delivery_for(make_session(receiver.url)) for _ in range(3)]
    # Two of ACME's attempts are in flight (leased), e.g. stuck on a slow endpoint.
    Delivery.objects.filter(pk__in=[busy[0].pk, busy[1].pk]).update(
        locked_until=timezone.now() + timedelta(seconds=30), attempt_count=1
    )

    assert delivery_attempt(delivery_id=busy[2].pk) == "deferred"
    waiting = Delivery.objects.get(pk=busy[2].pk)
    assert waiting.state == Delivery.State.PENDING
    assert waiting.attempt_count == 0 and not Attempt.objects.filter(delivery=waiting).exists()
    assert waiting.next_attempt_at > timezone.now() and waiting.locked_until is None

    other = make_client(code="OTHER")
    other_key, _ = make_api_key(other)
    theirs = _delivery_for(make_session(receiver.url, client=other, api_key=other_key))
    assert delivery_attempt(delivery_id=theirs.pk) == Delivery.State.DELIVERED

    # Once ACME's in-flight attempts finish, its waiting delivery goes out.
    Delivery.objects.filter(pk__in=[busy[0].pk, busy[1].pk]).update(locked_until=None)
    Delivery.objects.filter(pk=waiting.pk).update(next_attempt_at=timezone.now())
    assert delivery_attempt(delivery_id=waiting.pk) == Delivery.State.DELIVERED
    assert Delivery.objects.get(pk=waiting.pk).attempt_count == 1


def test_a_deferred_delivery_is_picked_up_by_the_sweep_when_due(settings, make_session, receiver):
    settings.WEBHOOK_MAX_IN_FLIGHT_PER_CLIENT = 1
    first, second = (_delivery_for(make_session(receiver.url)) for _ in range(2))
    Delivery.objects.filter(pk=first.pk).update(locked_until=timezone.now() + timedelta(seconds=30))
    assert delivery_attempt(delivery_id=second.pk) == "deferred"
    assert second.pk not in services.deliveries_sweep()
    Delivery.objects.filter(pk=second.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert second.pk in services.deliveries_sweep()


def test_a_finished_attempt_hands_its_slot_to_the_delivery_waiting_for_one(
    settings, make_session, receiver, monkeypatch
):
    """A delivery put back for the cap goes out as soon as one of the client's attempts
    finishes, not at a sweep seconds later."""
    settings.WEBHOOK_MAX_IN_FLIGHT_PER_CLIENT = 1
    settings.WEBHOOK_CLIENT_BUSY_DELAY_SECONDS = 5
    first, second, third = (_delivery_for(make_session(receiver.url)) for _ in range(3))
    Delivery.objects.filter(pk__in=[first.pk, second.pk]).update(enqueued_at=None)
    queued = []
    monkeypatch.setattr(services, "_enqueue", queued.append)
    # The first is being sent (leased) when the second comes: over the cap, it waits.
    claim = services._claim(delivery_id=first.pk)
    assert claim is not None and not isinstance(claim, str)
    assert delivery_attempt(delivery_id=second.pk) == "deferred"
    assert Delivery.objects.get(pk=second.pk).next_attempt_at > timezone.now()

    # The first attempt ends...
    Delivery.objects.filter(pk=first.pk).update(locked_until=None, state=Delivery.State.DELIVERED)
    assert delivery_attempt(delivery_id=third.pk) == Delivery.State.DELIVERED  # ...and another finishes
    assert queued == [second.pk]
    handed = Delivery.objects.get(pk=second.pk)
    assert handed.enqueued_at is not None and handed.next_attempt_at <= timezone.now()
    assert delivery_attempt(delivery_id=second.pk) == Delivery.State.DELIVERED
    assert queued == [second.pk]  # nothing else was waiting


def test_no_hand_off_when_nothing_waits_and_never_a_leased_or_queued_delivery(
    settings, acme, make_session, receiver, monkeypatch
):
    services._waiting_for_slot_mark(acme.pk)  # as if one had been put back: the hand-off looks
    queued_already, leased, done = (_delivery_for(make_session(receiver.url)) for _ in range(3))
    Delivery.objects.filter(pk=leased.pk).update(enqueued_at=None, locked_until=timezone.now() + timedelta(seconds=30))
    queued = []
    monkeypatch.setattr(services, "_enqueue", queued.append)
    assert delivery_attempt(delivery_id=done.pk) == Delivery.State.DELIVERED
    assert queued == []
    assert Delivery.objects.get(pk=queued_already.pk).enqueued_at is not None
