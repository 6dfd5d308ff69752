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
