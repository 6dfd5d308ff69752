"""Rotating a client's webhook signing secret: the previous secret keeps signing
next to the new one for WEBHOOK_SECRET_OVERLAP, so receivers switch without losing
a webhook; after that only the new one signs."""

from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from clients.models import Client
from clients.services import (
    client_reveal_webhook_secret,
    client_rotate_webhook_secret,
    client_webhook_secret,
    client_webhook_secrets,
)
from kyc.services import session_event_record
from webhooks.models import Delivery, Event
from webhooks.services import delivery_attempt

pytestmark = pytest.mark.django_db


def _deliver(session):
    event = session_event_record(session=session, kind=Event.Kind.SESSION_COMPLETED)
    delivery = Delivery.objects.get(event=event)
    assert delivery_attempt(delivery_id=delivery.pk) == Delivery.State.DELIVERED


def test_both_secrets_sign_during_the_overlap(acme, make_session, receiver, example_receiver, settings):
    settings.WEBHOOK_SECRET_OVERLAP = timedelta(hours=24)
    old = client_webhook_secret(client=acme)
    new = client_rotate_webhook_secret(client=acme)
    assert new != old and new.startswith("whsec_")
    acme.refresh_from_db()
    assert client_webhook_secret(client=acme) == new
    assert acme.webhook_secret_previous_expires_at > timezone.now() + timedelta(hours=23)

    _deliver(make_session(receiver.url))
    [request] = receiver.requests
    entries = request.headers["webhook-signature"].split(" ")
    assert len(entries) == 2 and all(e.startswith("v1,") for e in entries)
    # A receiver still on the old secret and one already on the new both accept it.
    assert Webhook(old).verify(request.body, request.headers)
    assert Webhook(new).verify(request.body, request.headers)
    assert example_receiver.verify(request.headers, request.body, whsec=old)
    assert example_receiver.verify(request.headers, request.body, whsec=new)
    # The contract signature is untouched: one hex HMAC.
    assert len(request.headers["X-Webhook-Signature"]) == 64


def test_only_the_new_secret_signs_after_the_overlap(acme, make_session, receiver):
    old = client_webhook_secret(client=acme)
    new = client_rotate_webhook_secret(client=acme)
    Client.objects.filter(pk=acme.pk).update(webhook_secret_previous_expires_at=timezone.now() - timedelta(seconds=1))

    _deliver(make_session(receiver.url))
    [request] = receiver.requests
    assert len(request.headers["webhook-signature"].split(" ")) == 1
    assert Webhook(new).verify(request.body, request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(request.body, request.headers)


def test_rotating_twice_keeps_only_the_one_before(acme):
    first = client_webhook_secret(client=acme)
    second = client_rotate_webhook_secret(client=acme)
    third = client_rotate_webhook_secret(client=acme)
    acme.refresh_from_db()

    assert client_webhook_secrets(client=acme) == [third, second]
    assert first not in client_webhook_secrets(client=acme)


def test_a_new_secret_is_revealed_once(acme):
    assert acme.webhook_secret_shown_at is None
    secret = client_reveal_webhook_secret(client=acme)
    assert secret == client_webhook_secret(client=acme)
    assert client_reveal_webhook_secret(client=Client.objects.get(pk=acme.pk)) is None
