import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from billing.models import PricingTier
from billing.services import credit_add
from kyc.models import KycSession

_refs = itertools.count(1)


@pytest.fixture
def make_session(make_api_key):
    keys = {}

    def _make(client, *, is_test=False, status=KycSession.Status.PENDING):
        env = "test" if is_test else "live"
        if (client.pk, env) not in keys:
            keys[(client.pk, env)] = make_api_key(client, environment=env)[0]
        return KycSession.objects.create(
            client=client,
            api_key=keys[(client.pk, env)],
            ref_id=f"BILL{next(_refs):08d}{timezone.now().strftime('%H%M%S%f')}"[:32],
            document_name="A",
            document_number="900101015555",
            webhook_url="https://example.com/h",
            expires_at=timezone.now() + timedelta(hours=24),
            is_test=is_test,
            status=status,
        )

    return _make


@pytest.fixture
def funded(make_client):
    """A client without overdraft holding `credits`."""

    def _make(credits, **kwargs):
        client = make_client(**kwargs)
        if credits:
            credit_add(client=client, credits=credits, description="opening")
        return client

    return _make


@pytest.fixture
def tiers():
    def _set(client, *specs):
        """specs: (name, min, max or None, credits)"""
        for name, low, high, credits in specs:
            PricingTier.objects.create(
                client=client, name=name, min_volume=low, max_volume=high, credits_per_session=credits
            )

    return _set


_REAL_NOW = timezone.now


@pytest.fixture(autouse=True)
def clock_is_real():
    """A test that fakes the clock (test_statements.at) from worker threads could
    leave the fake behind; the next billing test would notice here."""
    assert timezone.now is _REAL_NOW, "an earlier test left a patched clock behind"
