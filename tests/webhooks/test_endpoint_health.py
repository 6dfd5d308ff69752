"""Endpoint health: counted on every real delivery attempt, one email when a host
has failed every attempt for an hour and one when it recovers, never a delivery
held back; the admin and the template include that show it."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.core import mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from kyc.services import session_event_record
from webhooks.models import Delivery, EndpointHealth, Event
from webhooks.selectors import endpoint_health_failing, endpoint_health_for_client
from webhooks.services import delivery_attempt, endpoint_health_record, endpoint_host

pytestmark = pytest.mark.django_db


def attempt_now(delivery_id) -> str:
    Delivery.objects.filter(pk=delivery_id).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    return delivery_attempt(delivery_id=delivery_id)


@pytest.fixture
def contact(acme):
    acme.contact_email = "tech@acme.example"
    acme.save(update_fields=["contact_email"])
    return acme


def test_attempts_are_counted_per_host(acme, make_session, make_receiver):
    receiver = make_receiver(script=[503], default=200)
    event = session_event_record(session=make_session(receiver.url), kind=Event.Kind.SESSION_COMPLETED)
    delivery = event.deliveries.get()

    assert attempt_now(delivery.pk) == Delivery.State.RETRYING
    [health] = endpoint_health_for_client(client_id=acme.pk)
    assert health.host == f"127.0.0.1:{receiver.port}"
    assert (health.attempts_24h, health.successes_24h, health.consecutive_failures) == (1, 0, 1)
    assert health.failing and health.last_error == "HTTP 503"

    assert attempt_now(delivery.pk) == Delivery.State.DELIVERED
    [health] = endpoint_health_for_client(client_id=acme.pk)
    assert (health.attempts_24h, health.successes_24h, health.consecutive_failures) == (2, 1, 0)
    assert health.success_rate == 0.5 and not health.failing
    assert health.last_success_at is not None and health.first_failure_at is None


def test_one_email_after_an_hour_of_failures_and_one_on_recovery(settings, contact, make_session, make_receiver):
    start = timezone.now() - timedelta(hours=2)
    url = "https://hooks.acme.example/kyc"
    for minutes in (0, 30, 59):
        endpoint_health_record(
            client=contact, url=url, ok=False, error="HTTP 503", at=start + timedelta(minutes=minutes)
        )
    assert mail.outbox == []  # not an hour yet

    endpoint_health_record(client=contact, url=url, ok=False, error="HTTP 503", at=start + timedelta(minutes=60))
    endpoint_health_record(client=contact, url=url, ok=False, error="HTTP 503", at=start + timedelta(minutes=90))

    [alert] = mail.outbox
    assert alert.to == ["tech@acme.example"]
    assert "hooks.acme.example" in alert.subject and "failing" in alert.subject
    assert "never drops" in alert.body and "/api/v1/events/redeliver" in alert.body
    health = EndpointHealth.objects.get(client=contact, host="hooks.acme.example")
    assert health.alerted_at == start + timedelta(minutes=60)
    assert health.consecutive_failures == 5

    endpoint_health_record(client=contact, url=url, ok=True, error="", at=start + timedelta(minutes=100))
    endpoint_health_record(client=contact, url=url, ok=True, error="", at=start + timedelta(minutes=101))

    assert len(mail.outbox) == 2
    assert "delivered again" in mail.outbox[1].subject
    health.refresh_from_db()
    assert health.alerted_at is None and health.consecutive_failures == 0


def test_a_success_within_the_hour_resets_the_clock(contact):
    start = timezone.now() - timedelta(hours=3)
    url = "https://hooks.acme.example/kyc"
    endpoint_health_record(client=contact, url=url, ok=False, error="x", at=start)
    endpoint_health_record(client=contact, url=url, ok=True, error="", at=start + timedelta(minutes=50))
    endpoint_health_record(client=contact, url=url, ok=False, error="x", at=start + timedelta(minutes=70))
    endpoint_health_record(client=contact, url=url, ok=False, error="x", at=start + timedelta(minutes=110))
    assert mail.outbox == []


def test_alerting_never_stops_deliveries(settings, contact, make_session, make_receiver):
    settings.WEBHOOK_HEALTH_ALERT_AFTER_SECONDS = 0
    receiver = make_receiver(default=503)
    event = session_event_record(session=make_session(receiver.url), kind=Event.Kind.SESSION_COMPLETED)
    delivery = event.deliveries.get()

    for _ in range(3):
        assert attempt_now(delivery.pk) == Delivery.State.RETRYING

    assert len(mail.outbox) == 1  # once, not per attempt
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.RETRYING and delivery.next_attempt_at is not None
    assert len(receiver.requests) == 3
    receiver.default = 200
    assert attempt_now(delivery.pk) == Delivery.State.DELIVERED
    assert len(mail.outbox) == 2


def test_no_contact_email_means_no_mail_but_the_record_is_kept(settings, acme):
    settings.WEBHOOK_HEALTH_ALERT_AFTER_SECONDS = 0
    endpoint_health_record(client=acme, url="https://h.example/x", ok=False, error="x", at=timezone.now())
    assert mail.outbox == []
    assert EndpointHealth.objects.get(client=acme).alerted_at is not None


def test_the_window_is_the_last_24_hours(acme):
    now = timezone.now()
    url = "https://h.example/x"
    endpoint_health_record(client=acme, url=url, ok=False, error="x", at=now - timedelta(hours=30))
    endpoint_health_record(client=acme, url=url, ok=True, error="", at=now - timedelta(hours=2))
    endpoint_health_record(client=acme, url=url, ok=True, error="", at=now)
    [health] = endpoint_health_for_client(client_id=acme.pk, now=now)
    assert (health.attempts_24h, health.successes_24h) == (2, 2)
    assert len(EndpointHealth.objects.get(client=acme).hourly) == 2  # the 30-hour-old bucket was dropped


def test_failing_hosts_for_the_dashboard(acme, make_client):
    other = make_client(code="OTHER")
    now = timezone.now()
    endpoint_health_record(client=acme, url="https://ok.example/x", ok=True, error="", at=now)
    endpoint_health_record(client=acme, url="https://down.example/x", ok=False, error="HTTP 500", at=now)
    endpoint_health_record(
        client=other, url="https://gone.example/x", ok=False, error="x", at=now - timedelta(minutes=5)
    )
    endpoint_health_record(client=other, url="https://stale.example/x", ok=False, error="x", at=now - timedelta(days=2))

    failing = endpoint_health_failing(now=now)

    assert [(h.client_code, h.host) for h in failing] == [("OTHER", "gone.example"), ("ACME", "down.example")]
    assert [h.host for h in endpoint_health_for_client(client_id=acme.pk, now=now)] == ["down.example", "ok.example"]


def test_host_names_the_endpoint_without_credentials():
    assert endpoint_host("https://user:secret@Hooks.Example.com/kyc?x=1") == "hooks.example.com"
    assert endpoint_host("http://127.0.0.1:8080/kyc") == "127.0.0.1:8080"


def test_template_include_renders_the_records(acme):
    now = timezone.now()
    endpoint_health_record(client=acme, url="https://down.example/x", ok=False, error="HTTP 500", at=now)
    endpoint_health_record(client=acme, url="https://ok.example/x", ok=True, error="", at=now)
    html = render_to_string(
        "admin/webhooks/endpoint_health.html",
        {"endpoint_health": endpoint_health_for_client(client_id=acme.pk), "show_client": True},
    )
    assert "down.example" in html and "ok.example" in html
    assert "HTTP 500" in html and "0.0%" in html and "100.0%" in html
    assert "ACME" in html
    empty = render_to_string("admin/webhooks/endpoint_health.html", {"endpoint_health": []})
    assert "No webhook attempts in the last 24 hours." in empty


def test_admin_is_read_only_for_ops(client, acme):
    endpoint_health_record(client=acme, url="https://down.example/x", ok=False, error="HTTP 500", at=timezone.now())
    user = User.objects.create_user("ops1", password="pw-ops-1", is_staff=True)
    user.groups.add(Group.objects.get(name="ops"))
    client.force_login(user)

    listing = client.get(reverse("admin:webhooks_endpointhealth_changelist"), {"host": "down.example"})
    assert listing.status_code == 200
    assert "down.example" in listing.content.decode()
    record = EndpointHealth.objects.get()
    change = client.get(reverse("admin:webhooks_endpointhealth_change", args=[record.pk]))
    assert change.status_code == 200
    assert client.get(reverse("admin:webhooks_endpointhealth_add")).status_code == 403
    assert client.post(reverse("admin:webhooks_endpointhealth_delete", args=[record.pk])).status_code == 403
