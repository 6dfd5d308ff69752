"""Every session shows what it cost: GET, listing, refresh and the completed webhook."""

import json

import pytest

from billing.models import LedgerEntry, PricingTier
from kyc.models import KycSession
from webhooks.models import Event

from .helpers import create_session, sandbox_complete

pytestmark = pytest.mark.django_db(transaction=True)


def test_completed_live_session_carries_its_billing_everywhere(
    api, funded, provider, valid_body, django_assert_num_queries
):
    PricingTier.objects.create(client=funded, name="Starter", min_volume=1, max_volume=None, credits_per_session=40)
    body = create_session(api, valid_body)
    url = f"/api/v1/kyc/sessions/{body['id']}"
    assert api.get(url).json()["billing"] is None  # pending: nothing charged yet
    sandbox_complete(KycSession.objects.get(pk=body["id"]), outcome="approved")

    session = KycSession.objects.get(pk=body["id"])
    usage = LedgerEntry.objects.get(session=session, kind="usage")
    assert session.status == "completed"
    assert (session.billed_credits, session.billed_tier, session.billed_at) == (40, "Starter", usage.created_at)
    with django_assert_num_queries(2):
        detail = api.get(url).json()
    billing = detail["billing"]
    assert billing["credits"] == 40 and billing["tier"] == "Starter"
    assert billing["billed_at"].endswith("Z")
    assert "billing" not in api.get("/api/v1/kyc/sessions").json()["results"][0]  # the listing stays lean
    refreshed = api.post(url).json()
    assert refreshed["refreshed"] is False and refreshed["billing"] == billing
    event = Event.objects.get(session=session, kind=Event.Kind.SESSION_COMPLETED)
    assert json.loads(bytes(event.body))["data"]["billing"] == billing


def test_test_mode_session_has_no_billing(test_api, acme, provider, valid_body):
    body = create_session(test_api, valid_body)
    sandbox_complete(KycSession.objects.get(pk=body["id"]), outcome="rejected")
    detail = test_api.get(f"/api/v1/kyc/sessions/{body['id']}").json()
    assert detail["status"] == "completed" and detail["billing"] is None
    event = Event.objects.get(session_id=body["id"], kind=Event.Kind.SESSION_COMPLETED)
    assert json.loads(bytes(event.body))["data"]["billing"] is None
    assert not LedgerEntry.objects.filter(kind="usage").exists()


def test_a_quote_taken_by_a_concurrent_charge_is_corrected_before_commit(
    api, funded, provider, valid_body, monkeypatch
):
    """The row and the webhook show a completed session's cost before the account is
    locked (its quote); when another charge of the client took the quoted ordinal in
    between, what the charge really cost replaces the quote in the same transaction."""
    from billing import services as billing

    PricingTier.objects.create(client=funded, name="First", min_volume=1, max_volume=1, credits_per_session=50)
    PricingTier.objects.create(client=funded, name="Rest", min_volume=2, max_volume=None, credits_per_session=30)
    first, second = (KycSession.objects.get(pk=create_session(api, valid_body)["id"]) for _ in range(2))
    real = billing.session_charge_reads

    def stale(*, session):
        reads = real(session=session)
        if session.pk == second.pk:
            # Read as if `first` had not been charged yet: quoted as the month's first.
            return billing.ChargeReads(tiers=reads.tiers, hold=reads.hold, quote=(50, "First"))
        return reads

    monkeypatch.setattr(billing, "session_charge_reads", stale)
    sandbox_complete(first, outcome="approved")
    sandbox_complete(second, outcome="approved")

    second.refresh_from_db()
    usage = LedgerEntry.objects.get(session=second, kind="usage")
    assert (usage.month_ordinal, -usage.amount, usage.tier_name) == (2, 30, "Rest")
    assert (second.billed_credits, second.billed_tier, second.billed_at) == (30, "Rest", usage.created_at)
    event = Event.objects.get(session=second, kind=Event.Kind.SESSION_COMPLETED)
    assert (
        json.loads(bytes(event.body))["data"]["billing"]
        == api.get(f"/api/v1/kyc/sessions/{second.pk}").json()["billing"]
    )
    assert json.loads(bytes(event.body))["data"]["billing"]["credits"] == 30


@pytest.mark.postgres
def test_a_charge_refused_with_the_commit_is_applied_again_statement_by_statement(
    api, funded, provider, valid_body, monkeypatch
):
    """On PostgreSQL a completion's tally and charge go with its COMMIT. When the charge
    refuses there (the quoted ordinal was taken), everything is rolled back and applied
    again; the session ends up completed once, charged once, with one event."""
    from billing import services as billing
    from kyc.models import OpenSessionTally, ProviderCallback
    from webhooks.models import Delivery

    PricingTier.objects.create(client=funded, name="First", min_volume=1, max_volume=1, credits_per_session=50)
    PricingTier.objects.create(client=funded, name="Rest", min_volume=2, max_volume=None, credits_per_session=30)
    first, second = (KycSession.objects.get(pk=create_session(api, valid_body)["id"]) for _ in range(2))
    real = billing.session_charge_reads
    quoted, reads_of_second = [], []

    def stale(*, session):
        reads = real(session=session)
        if session.pk == second.pk:
            reads_of_second.append(reads)
        if session.pk == second.pk and not quoted:
            # The first read quotes it as the month's first, with that ordinal.
            quoted.append(reads)
            return billing.ChargeReads(tiers=reads.tiers, hold=reads.hold, quote=(50, "First"), quote_ordinal=1)
        return reads

    monkeypatch.setattr(billing, "session_charge_reads", stale)
    sandbox_complete(first, outcome="approved")
    sandbox_complete(second, outcome="approved")

    assert len(reads_of_second) == 2, "applied once: the charge was not refused with the commit"
    second.refresh_from_db()
    usage = LedgerEntry.objects.get(session=second, kind="usage")
    assert (usage.month_ordinal, -usage.amount, usage.tier_name) == (2, 30, "Rest")
    assert (second.status, second.billed_credits, second.billed_tier) == ("completed", 30, "Rest")
    (event,) = Event.objects.filter(session=second)
    assert json.loads(bytes(event.body))["data"]["billing"]["credits"] == 30
    assert Delivery.objects.filter(event__session=second).count() == 1
    assert ProviderCallback.objects.get(session=second).state == "processed"
    assert OpenSessionTally.objects.get(client=funded).open_count == 0
    assert billing.ledger_check() == []
