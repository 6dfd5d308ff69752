"""The delivery admin: filters, attempts, "Resend now", and the session's events inline."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from kyc.models import KycSession
from kyc.services import session_event_record as event_record
from webhooks.admin import EventInline
from webhooks.models import Delivery, Event
from webhooks.services import delivery_attempt

pytestmark = pytest.mark.django_db


@pytest.fixture
def ops_client(client):
    user = User.objects.create_user("ops1", password="pw-ops-1", is_staff=True)
    user.groups.add(Group.objects.get(name="ops"))
    client.force_login(user)
    return client


def record(session, kind=Event.Kind.SESSION_COMPLETED):
    event = event_record(session=session, kind=kind)
    return event, Delivery.objects.get(event=event)


def test_delivery_list_filters(ops_client, make_session, make_client, make_api_key, make_receiver):
    ok = make_receiver()
    failing = make_receiver(default=500)
    _, delivered = record(make_session(ok.url))
    _, retrying = record(make_session(failing.url))
    other = make_client(code="OTHER")
    other_key, _ = make_api_key(other)
    _, pending = record(
        make_session("https://hooks.example.com/x", client=other, api_key=other_key, status="expired", result=None),
        kind=Event.Kind.SESSION_EXPIRED,
    )
    delivery_attempt(delivery_id=delivered.pk)
    delivery_attempt(delivery_id=retrying.pk)

    url = reverse("admin:webhooks_delivery_changelist")

    def listed(query):
        response = ops_client.get(url, query)
        assert response.status_code == 200
        return {d.pk for d in response.context["cl"].result_list}

    assert listed({}) == {delivered.pk, retrying.pk, pending.pk}
    assert listed({"state": "retrying"}) == {retrying.pk}
    assert listed({"state": "delivered"}) == {delivered.pk}
    assert listed({"state": "pending"}) == {pending.pk}
    assert listed({"event__kind": "kyc.session.expired"}) == {pending.pk}
    assert listed({"event__client__id__exact": str(other.pk)}) == {pending.pk}


def test_delivery_list_query_count_does_not_grow(ops_client, make_session):
    url = reverse("admin:webhooks_delivery_changelist")
    for i in range(2):
        record(make_session(f"https://hooks.example.com/{i}"))
    with CaptureQueriesContext(connection) as few:
        assert ops_client.get(url).status_code == 200
    for i in range(2, 8):
        record(make_session(f"https://hooks.example.com/{i}"))
    with CaptureQueriesContext(connection) as many:
        assert ops_client.get(url).status_code == 200
    assert len(many) == len(few)


def test_delivery_page_shows_attempts(ops_client, make_session, make_receiver):
    receiver = make_receiver([(500, b"upstream exploded")])
    _, delivery = record(make_session(receiver.url))
    delivery_attempt(delivery_id=delivery.pk)
    response = ops_client.get(reverse("admin:webhooks_delivery_change", args=[delivery.pk]))
    assert response.status_code == 200
    content = response.content.decode()
    assert "upstream exploded" in content
    assert "Resend now" in content
    assert "kyc.session.completed" in content


def test_resend_now_action(ops_client, make_session, make_receiver, django_capture_on_commit_callbacks):
    receiver = make_receiver(default=410)
    _, delivery = record(make_session(receiver.url))
    assert delivery_attempt(delivery_id=delivery.pk) == "failed"
    with django_capture_on_commit_callbacks() as callbacks:
        response = ops_client.post(
            reverse("admin:webhooks_delivery_changelist"),
            {"action": "resend_now", "_selected_action": [str(delivery.pk)]},
        )
    assert response.status_code == 302
    assert len(callbacks) == 1
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.PENDING
    receiver.default = 200
    assert delivery_attempt(delivery_id=delivery.pk) == "delivered"


def test_resend_now_button_on_the_delivery_page(ops_client, make_session, make_receiver):
    receiver = make_receiver(default=410)
    _, delivery = record(make_session(receiver.url))
    delivery_attempt(delivery_id=delivery.pk)
    response = ops_client.post(reverse("admin:webhooks_delivery_change", args=[delivery.pk]), {"_resend_now": "1"})
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.PENDING
    assert delivery.attempt_count == 1


def test_event_page_pretty_prints_the_body(ops_client, make_session):
    event, _ = record(make_session("https://hooks.example.com/x"))
    response = ops_client.get(reverse("admin:webhooks_event_change", args=[event.pk]))
    assert response.status_code == 200
    assert "&quot;ic_number&quot;: &quot;900101015555&quot;" in response.content.decode()


def test_attempt_admin_is_read_only(ops_client, make_session, receiver):
    _, delivery = record(make_session(receiver.url))
    delivery_attempt(delivery_id=delivery.pk)
    response = ops_client.get(reverse("admin:webhooks_attempt_changelist"))
    assert response.status_code == 200
    assert ops_client.get(reverse("admin:webhooks_attempt_add")).status_code == 403


def test_event_inline_for_the_session_page(rf, admin_user, make_session, receiver):
    session = make_session(receiver.url)
    event, delivery = record(session)
    delivery_attempt(delivery_id=delivery.pk)
    request = rf.get("/")
    request.user = admin_user
    inline = EventInline(KycSession, admin.site)
    [shown] = inline.get_queryset(request).filter(session=session)
    assert shown == event
    summary = inline.deliveries_summary(shown)
    assert reverse("admin:webhooks_delivery_change", args=[delivery.pk]) in summary
    assert "Delivered" in summary and "1 attempt" in summary
    assert inline.has_add_permission(request, session) is False
