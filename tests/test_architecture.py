"""The house's structure: which app may import which (docs/architecture.md)."""

from billing.services import SESSION_FINAL_STATUSES
from kyc.models import KycSession


def test_billing_knows_the_final_session_statuses_kyc_settles_holds_at():
    # billing stands below kyc and keeps its own copy of the statuses for the ledger check.
    assert set(SESSION_FINAL_STATUSES) == set(KycSession.FINAL_STATUSES)
