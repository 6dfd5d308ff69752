"""Sessions with their whole history (hold, callback, charge, webhook event,
delivery and attempts) built through the services, and staff users per role."""

import itertools
import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client as BrowserClient
from django.utils import timezone

from billing import services as billing
from kyc.models import KycSession, ProviderCallback
from kyc.services import session_event_record
from webhooks.models import Attempt, Delivery

_counter = itertools.count(1)


def staff_browser(username, *, role=None, perms=(), superuser=False):
    if superuser:
        user = User.objects.create_superuser(username, password="pw-for-tests-only")
    else:
        user = User.objects.create_user(username, password="pw-for-tests-only", is_staff=True)
    if role:
        user.groups.add(Group.objects.get(name=role))
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    browser = BrowserClient()
    browser.force_login(user)
    browser.user = user
    return browser


@pytest.fixture
def ops(db):
    return staff_browser("olivia", role="ops")


@pytest.fixture
def finance(db):
    return staff_browser("fred", role="finance")


@pytest.fixture
def viewer(db):
    """May look at sessions and deliveries, change nothing, no personal data."""
    return staff_browser("vera", perms=["kyc.view_kycsession", "webhooks.view_delivery", "clients.view_client"])


def build_session(
    *,
    client,
    api_key,
    name="Ahmad bin Abdullah",
    number="900101-01-5555",
    status=KycSession.Status.COMPLETED,
    result=KycSession.Result.APPROVED,
    created_at=None,
    metadata=None,
    webhook_url="https://receiver.example/hooks",
    with_history=True,
):
    """A session as the flow leaves it: hold placed, callback stored, charged
    (or released) and its webhook event with one failed then one good attempt."""
    n = next(_counter)
    session = KycSession.objects.create(
        client=client,
        api_key=api_key,
        ref_id=f"{client.code}_t_{n}_{uuid.uuid4().hex[:6]}",
        provider_ref_id=f"PRV{n:06d}",
        onboarding_id=f"ONB{n:06d}",
        document_name=name,
        document_number=number,
        webhook_url=webhook_url,
        expires_at=timezone.now() + timedelta(hours=24),
        metadata=metadata if metadata is not None else {"user_id": f"usr_{n}"},
    )
    if created_at is not None:
        KycSession.objects.filter(pk=session.pk).update(created_at=created_at)
        session.refresh_from_db()
    if not with_history:
        return session
    billing.hold_place(session=session)
    if status == KycSession.Status.COMPLETED:
        fields = dict(
            status=status,
            result=result,
            provider_status="2",
            provider_result="1" if result == KycSession.Result.APPROVED else "0",
            reject_message=None if result == KycSession.Result.APPROVED else "Face does not match",
            completed_at=timezone.now(),
            last_callback_at=timezone.now(),
            ocr_full_name=name.upper(),
            ocr_id_number=number,
            ocr_address="12 JALAN AMPANG, 50450 KUALA LUMPUR",
            date_of_birth=date(1990, 1, 1),
            face_match=True,
            face_match_score=Decimal("95.50"),
            liveness_passed=True,
            raw_result={"step1": {"ocr_result": {"full_name": name.upper()}}},
        )
        KycSession.objects.filter(pk=session.pk).update(**fields)
        session.refresh_from_db()
        ProviderCallback.objects.create(
            session=session,
            body_sha256=uuid.uuid4().hex,
            provider_ref_id=session.provider_ref_id,
            provider_status="2",
            state=ProviderCallback.State.PROCESSED,
            processed_at=timezone.now(),
        )
        billing.session_charge(session=session)
        event = session_event_record(session=session, kind="kyc.session.completed")
    elif status == KycSession.Status.EXPIRED:
        KycSession.objects.filter(pk=session.pk).update(status=status)
        session.refresh_from_db()
        billing.hold_release(session=session)
        event = session_event_record(session=session, kind="kyc.session.expired")
    else:
        return session
    delivery = Delivery.objects.get(event=event)
    now = timezone.now()
    Attempt.objects.create(
        delivery=delivery, number=1, started_at=now, status_code=500, duration_ms=40, error="HTTP 500"
    )
    Attempt.objects.create(
        delivery=delivery, number=2, started_at=now + timedelta(seconds=30), status_code=200, duration_ms=35
    )
    Delivery.objects.filter(pk=delivery.pk).update(
        state=Delivery.State.DELIVERED, attempt_count=2, delivered_at=now, next_attempt_at=None
    )
    return session


@pytest.fixture
def funded_acme(acme):
    billing.credit_add(client=acme, credits=10_000, description="opening balance")
    return acme


@pytest.fixture
def make_full_session(funded_acme, acme_key):
    def _make(**kwargs):
        kwargs.setdefault("client", funded_acme)
        kwargs.setdefault("api_key", acme_key[0])
        return build_session(**kwargs)

    return _make
