from datetime import timedelta

import pytest
from django.utils import timezone

from billing.models import Hold, LedgerEntry
from kyc import tasks
from kyc.models import KycSession
from webhooks.models import Event

from .helpers import create_session, sandbox_complete

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def session(api, funded, provider, valid_body):
    return KycSession.objects.get(pk=create_session(api, valid_body)["id"])


def age(session, **delta):
    KycSession.objects.filter(pk=session.pk).update(created_at=timezone.now() - timedelta(**delta))


def test_poll_completes_a_session_whose_callback_was_lost(session, settings):
    sandbox_complete(session, outcome="approved", send_callback=False)
    assert tasks.poll_stale_sessions() == 0  # too young to poll
    age(session, minutes=10)
    assert tasks.poll_stale_sessions() == 1
    session.refresh_from_db()
    assert session.status == "completed" and session.result == "approved"
    assert LedgerEntry.objects.filter(session=session, kind="usage").count() == 1
    assert Event.objects.filter(session=session, kind="kyc.session.completed").count() == 1
    # Polled sessions are not polled again right away, finals never.
    assert tasks.poll_stale_sessions() == 0


def test_poll_leaves_sessions_with_recent_callbacks(session):
    age(session, minutes=10)
    KycSession.objects.filter(pk=session.pk).update(last_callback_at=timezone.now())
    assert tasks.poll_stale_sessions() == 0


def test_poll_twice_is_harmless(session):
    sandbox_complete(session, outcome="rejected", send_callback=False)
    age(session, minutes=10)
    tasks.poll_stale_sessions()
    KycSession.objects.filter(pk=session.pk).update(last_provider_check_at=None)
    tasks.poll_stale_sessions()
    assert LedgerEntry.objects.filter(session=session, kind="usage").count() == 1


def test_untouched_session_expires_unbilled(session):
    assert tasks.expire_sessions() == 0
    KycSession.objects.filter(pk=session.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert tasks.expire_sessions() == 1
    session.refresh_from_db()
    assert session.status == "expired" and session.result is None
    assert session.last_provider_check_at is not None
    assert not LedgerEntry.objects.filter(session=session, kind="usage").exists()
    assert Hold.objects.get(session=session).status == Hold.Status.RELEASED
    assert Event.objects.filter(session=session, kind="kyc.session.expired").count() == 1
    assert tasks.expire_sessions() == 0


def test_expiry_last_check_finds_a_completion(session):
    sandbox_complete(session, outcome="approved", send_callback=False)
    KycSession.objects.filter(pk=session.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    tasks.expire_sessions()
    session.refresh_from_db()
    assert session.status == "completed"
    assert LedgerEntry.objects.filter(session=session, kind="usage").count() == 1


def test_expiry_waits_for_an_unreachable_provider_within_grace(session, provider_down):
    KycSession.objects.filter(pk=session.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert tasks.expire_sessions() == 0
    assert KycSession.objects.get(pk=session.pk).status == "pending"
    KycSession.objects.filter(pk=session.pk).update(
        expires_at=timezone.now() - timedelta(hours=2), last_provider_check_at=None
    )
    assert tasks.expire_sessions() == 1
    assert KycSession.objects.get(pk=session.pk).status == "expired"


def test_orphaned_creation_is_failed_and_its_hold_released(api, funded, valid_body, monkeypatch):
    from kyc import services

    session = services._reserve(
        client=funded,
        api_key=api.api_key,
        data={
            "document_name": "A",
            "document_number": "900101015555",
            "document_type": "1",
            "platform": "Web",
            "webhook_url": "https://example.com/h",
            "redirect_url": "",
            "success_url": "",
            "fail_url": "",
            "metadata": {},
        },
    )
    assert Hold.objects.get(session=session).status == Hold.Status.OPEN
    age(session, minutes=10)
    tasks.fail_orphaned_sessions()
    session.refresh_from_db()
    assert session.status == "failed"
    assert Hold.objects.get(session=session).status == Hold.Status.RELEASED


def test_status_page(client, session):
    page = client.get(f"/r/{session.id}")
    assert page.status_code == 200 and b'data-state="in_progress"' in page.content
    assert b'http-equiv="refresh"' in page.content
    assert session.document_number.encode() not in page.content
    sandbox_complete(session, outcome="approved")
    page = client.get(f"/r/{session.id}")
    assert b'data-state="verified"' in page.content and b"refresh" not in page.content
    assert b"Ahmad" not in page.content


def test_status_page_rejected_and_unknown(client, session):
    sandbox_complete(session, outcome="rejected")
    assert b'data-state="not_verified"' in client.get(f"/r/{session.id}").content
    import uuid

    assert client.get(f"/r/{uuid.uuid4()}").status_code == 404
