"""The retry schedule: at least 8 attempts over at least 24 hours by default."""

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from kyc.services import session_event_record as event_record
from webhooks.models import Delivery, Event
from webhooks.services import backoff_seconds, delivery_attempt, retry_schedule

HOUR = 3600


def test_default_schedule_spans_a_day_with_at_least_eight_attempts():
    offsets = retry_schedule()
    assert len(offsets) >= 8
    assert offsets[-1] >= 24 * HOUR
    assert offsets == sorted(offsets)
    # The documented table (docs/webhooks.md).
    assert offsets == [0, 30, 150, 630, 2550, 10230, 31830, 53430, 75030, 96630]


def test_delays_grow_exponentially_up_to_the_cap(settings):
    delays = [backoff_seconds(attempt=n, jitter=False) for n in range(1, 15)]
    assert delays[:5] == [30, 120, 480, 1920, 7680]
    assert all(d == settings.WEBHOOK_BACKOFF_MAX_SECONDS for d in delays[5:])


def test_jitter_is_bounded_and_never_shortens_the_schedule():
    rng = random.Random(7)
    for attempt in range(1, 10):
        nominal = backoff_seconds(attempt=attempt, jitter=False)
        samples = [backoff_seconds(attempt=attempt, rng=rng) for _ in range(300)]
        assert all(nominal <= s <= nominal * 1.2 for s in samples)
        assert len(set(samples)) > 1


def test_schedule_follows_settings(settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 4
    settings.WEBHOOK_BACKOFF_BASE_SECONDS = 1
    settings.WEBHOOK_BACKOFF_MAX_SECONDS = 10
    assert retry_schedule() == [0, 1, 5, 15]


@pytest.mark.django_db
def test_failed_attempt_schedules_the_next_one_with_backoff(make_session, make_receiver):
    receiver = make_receiver(default=500)
    event = event_record(session=make_session(receiver.url), kind=Event.Kind.SESSION_COMPLETED)
    delivery = Delivery.objects.get(event=event)
    Delivery.objects.filter(pk=delivery.pk).update(attempt_count=4)  # the next attempt is number 5
    before = timezone.now()
    assert delivery_attempt(delivery_id=delivery.pk) == "retrying"
    delivery.refresh_from_db()
    wait = delivery.next_attempt_at - before
    assert timedelta(seconds=7680) <= wait <= timedelta(seconds=7680 * 1.2 + 5)
