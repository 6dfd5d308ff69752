"""A charge made with the session's row locked (a completing callback) is one call of
truestack_usage_charge on PostgreSQL: it writes what the locked path writes, and
leaves the charge to the locked path when the ordinal is not the quoted one."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from billing import services
from billing.models import CreditAccount, Hold, LedgerEntry
from kyc.models import KycSession

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def charge_locked(session, reads=None):
    """As a completing callback charges: in its transaction, the session's row locked."""
    with transaction.atomic():
        KycSession.objects.select_for_update().get(pk=session.pk)
        reads = reads or services.session_charge_reads(session=session)
        with CaptureQueriesContext(connection) as queries:
            entry = services.session_charge(session=session, session_locked=True, reads=reads)
    return entry, [q["sql"] for q in queries.captured_queries]


def held_session(client, make_session):
    session = make_session(client)
    with transaction.atomic():
        services.hold_place(session=session)
    return session


def test_one_call_writes_what_the_locked_path_writes(funded, make_session):
    one_call, locked = funded(1000), funded(1000)
    by_call, sql = charge_locked(held_session(one_call, make_session))
    assert any("truestack_usage_charge" in q for q in sql)
    assert not any("COUNT(" in q for q in sql)
    by_lock = services.session_charge(session=held_session(locked, make_session))

    fields = ("kind", "amount", "balance_after", "tier_name", "month_ordinal")
    stored = LedgerEntry.objects.get(pk=by_call.pk)
    assert [getattr(stored, f) for f in fields] == [getattr(by_call, f) for f in fields]
    assert [getattr(stored, f) for f in fields] == [getattr(by_lock, f) for f in fields]
    assert (stored.session_id, stored.created_at) == (by_call.session_id, by_call.created_at)
    assert stored.description == f"KYC session {stored.session_id}"
    for client in (one_call, locked):
        account = CreditAccount.objects.get(client=client)
        assert (account.balance, account.held) == (950, 0)
        hold = Hold.objects.get(client=client)
        assert hold.status == Hold.Status.CAPTURED and hold.settled_at is not None
    assert services.ledger_check() == []


def test_an_ordinal_taken_since_the_quote_is_left_to_the_locked_path(funded, make_session, tiers):
    client = funded(1000)
    tiers(client, ("First", 1, 1, 50), ("Rest", 2, None, 30))
    first, second = held_session(client, make_session), held_session(client, make_session)
    stale = services.session_charge_reads(session=second)  # quoted as the month's first
    assert stale.quote_ordinal == 1 and stale.quote == (50, "First")

    charge_locked(first)
    entry, sql = charge_locked(second, reads=stale)
    call = next(n for n, q in enumerate(sql) if "truestack_usage_charge" in q)
    assert any("COUNT(" in q for q in sql[call + 1 :])  # the locked path counted after it
    assert (entry.month_ordinal, -entry.amount, entry.tier_name) == (2, 30, "Rest")
    assert LedgerEntry.objects.filter(client=client, kind="usage").count() == 2
    assert CreditAccount.objects.get(client=client).balance == 1000 - 50 - 30
    assert services.ledger_check() == []


def test_a_client_without_an_account_is_charged_by_the_locked_path(make_client, make_session):
    client = make_client(allow_overdraft=True)
    assert not CreditAccount.objects.filter(client=client).exists()
    entry, sql = charge_locked(make_session(client))
    assert any("truestack_usage_charge" in q for q in sql)
    assert (entry.amount, entry.balance_after, entry.month_ordinal) == (-50, -50, 1)
    assert CreditAccount.objects.get(client=client).balance == -50
    assert services.ledger_check() == []


def test_concurrent_completions_get_distinct_ordinals_and_their_tier_prices(funded, make_session, tiers):
    client = funded(10_000)
    tiers(client, ("First three", 1, 3, 50), ("Rest", 4, None, 30))
    sessions = [held_session(client, make_session) for _ in range(10)]

    def complete(session):
        try:
            return charge_locked(session)[0]
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(complete, sessions))
    entries = LedgerEntry.objects.filter(client=client, kind="usage")
    assert sorted((e.month_ordinal, -e.amount) for e in entries) == [(n, 50 if n <= 3 else 30) for n in range(1, 11)]
    account = CreditAccount.objects.get(client=client)
    assert (account.balance, account.held) == (10_000 - 3 * 50 - 7 * 30, 0)
    assert services.ledger_check() == []
