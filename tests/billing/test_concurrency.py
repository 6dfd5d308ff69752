"""Money safety under real concurrency: PostgreSQL row locks, real threads,
each with its own database connection."""

import threading
from collections import Counter

import pytest
from django.db import connection, transaction
from django.db.models import Sum

from billing import selectors, services
from billing.models import CreditAccount, Hold, LedgerEntry
from kyc.models import KycSession
from truestack.errors import InsufficientCredits

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_concurrently(functions, timeout=30):
    """Start every function at the same moment, one thread each; return
    (results, errors) in the order given."""
    barrier = threading.Barrier(len(functions))
    results = [None] * len(functions)
    errors = [None] * len(functions)

    def worker(i, fn):
        try:
            barrier.wait(timeout=timeout)
            results[i] = fn()
        except Exception as exc:  # collected and asserted on by the test
            errors[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, fn)) for i, fn in enumerate(functions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), "a thread is stuck (deadlock?)"
    return results, errors


def complete(session_id):
    """What the completion path does: lock the session, mark it completed, charge, in one transaction."""

    def _run():
        with transaction.atomic():
            session = KycSession.objects.select_for_update().get(pk=session_id)
            session.status = KycSession.Status.COMPLETED
            session.save(update_fields=["status"])
            return services.session_charge(session=session)

    return _run


def test_twenty_threads_charging_one_session_charge_it_once(funded, make_session):
    client = funded(1000)
    session = make_session(client)
    services.hold_place(session=session)

    def charge():
        # No session lock here: the account lock and the constraint suffice.
        return services.session_charge(session=KycSession.objects.get(pk=session.pk))

    results, errors = run_concurrently([charge] * 20)
    assert errors == [None] * 20
    assert sum(r is not None for r in results) == 1
    assert LedgerEntry.objects.filter(session=session, kind="usage").count() == 1
    account = CreditAccount.objects.get(client=client)
    assert (account.balance, account.held) == (950, 0)
    assert services.ledger_check() == []


def test_twenty_completions_of_one_session_charge_it_once(funded, make_session):
    client = funded(1000)
    session = make_session(client)
    services.hold_place(session=session)
    results, errors = run_concurrently([complete(session.pk)] * 20)
    assert errors == [None] * 20
    assert sum(r is not None for r in results) == 1
    assert selectors.balance_get(client=client) == 950
    assert services.ledger_check() == []


def test_concurrent_completions_straddling_a_tier_boundary(funded, make_session, tiers):
    client = funded(1000)
    tiers(client, ("First three", 1, 3, 50), ("Volume", 4, None, 30))
    sessions = [make_session(client) for _ in range(6)]
    for s in sessions:
        services.hold_place(session=s)
    assert CreditAccount.objects.get(client=client).held == 6 * 50

    results, errors = run_concurrently([complete(s.pk) for s in sessions])
    assert errors == [None] * 6
    usage = LedgerEntry.objects.filter(client=client, kind="usage")
    assert Counter(-e.amount for e in usage) == Counter({50: 3, 30: 3})
    assert sorted(e.month_ordinal for e in usage) == [1, 2, 3, 4, 5, 6]
    assert {e.month_ordinal: -e.amount for e in usage} == {1: 50, 2: 50, 3: 50, 4: 30, 5: 30, 6: 30}
    account = CreditAccount.objects.get(client=client)
    assert (account.balance, account.held) == (1000 - 3 * 50 - 3 * 30, 0)
    assert services.ledger_check() == []


def test_credit_for_one_session_admits_one_hold(funded, make_session):
    client = funded(50)
    first, second = make_session(client), make_session(client)

    def place(session_id):
        def _run():
            with transaction.atomic():
                return services.hold_place(session=KycSession.objects.select_related("client").get(pk=session_id))

        return _run

    results, errors = run_concurrently([place(first.pk), place(second.pk)] * 5)
    assert Hold.objects.filter(client=client).count() == 1
    winner = Hold.objects.get(client=client).session_id
    # Exactly one attempt succeeds; every other one (for either session) is
    # refused because the credit is already held.
    successes = [result for result, error in zip(results, errors) if error is None]
    assert len(successes) == 1 and successes[0].session_id == winner
    assert all(isinstance(error, InsufficientCredits) and error.balance == 50 for error in errors if error is not None)
    account = CreditAccount.objects.get(client=client)
    assert (account.balance, account.held) == (50, 50)
    assert services.ledger_check() == []


def test_ten_concurrent_session_creations_with_credit_for_one(funded, make_session, make_api_key):
    """The creation path: insert the session and hold in one transaction; a
    refused hold rolls the session back too."""
    client = funded(50)
    api_key = make_api_key(client)[0]
    template = make_session(client)

    def create(n):
        def _run():
            with transaction.atomic():
                session = KycSession.objects.create(
                    client=client,
                    api_key=api_key,
                    ref_id=f"CONC{n:04d}",
                    document_name="A",
                    document_number="900101015555",
                    webhook_url="https://example.com/h",
                    expires_at=template.expires_at,
                )
                return services.hold_place(session=session)

        return _run

    results, errors = run_concurrently([create(n) for n in range(10)])
    assert sum(r is not None for r in results) == 1
    assert sum(isinstance(e, InsufficientCredits) for e in errors) == 9
    assert KycSession.objects.filter(ref_id__startswith="CONC").count() == 1
    assert CreditAccount.objects.get(client=client).held == 50
    assert services.ledger_check() == []


def test_concurrent_topups_and_charges_keep_balance_equal_to_entries(funded, make_session):
    client = funded(0, allow_overdraft=True)
    sessions = [make_session(client) for _ in range(8)]
    for s in sessions:
        services.hold_place(session=s)

    def topup():
        for _ in range(5):
            services.credit_add(client=client, credits=7, description="load")

    functions = [topup] * 4 + [complete(s.pk) for s in sessions]
    results, errors = run_concurrently(functions)
    assert errors == [None] * len(functions)
    total = LedgerEntry.objects.filter(client=client).aggregate(t=Sum("amount"))["t"]
    account = CreditAccount.objects.get(client=client)
    assert account.balance == total == 4 * 5 * 7 - 8 * 50
    assert account.held == 0
    assert services.ledger_check() == []


def test_concurrent_first_credits_create_one_account(make_client):
    client = make_client()

    def topup():
        return services.credit_add(client=client, credits=10)

    results, errors = run_concurrently([topup] * 10)
    assert errors == [None] * 10
    assert CreditAccount.objects.filter(client=client).count() == 1
    assert sorted(r.balance_after for r in results) == list(range(10, 101, 10))
    assert selectors.balance_get(client=client) == 100
    assert services.ledger_check() == []
