from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from billing import selectors, services
from billing.models import CreditAccount, Hold, LedgerEntry
from truestack.errors import BadRequest, InsufficientCredits

KL = ZoneInfo("Asia/Kuala_Lumpur")
pytestmark = pytest.mark.django_db


def usage_entries(client):
    return LedgerEntry.objects.filter(client=client, kind=LedgerEntry.Kind.USAGE)


def assert_ledger_ok():
    assert services.ledger_check() == []


# --- prices and tiers -----------------------------------------------------------


def test_default_price_without_tiers(make_client):
    client = make_client()
    assert services.price_for_ordinal(client=client, ordinal=1) == (50, "Default")
    assert services.price_for_ordinal(client=client, ordinal=999) == (50, "Default")
    assert services.hold_amount_for(client=client) == 50


def test_tier_prices_and_uncovered_ordinals(make_client, tiers):
    client = make_client()
    tiers(client, ("Starter", 1, 3, 40), ("Volume", 10, None, 20))
    assert services.price_for_ordinal(client=client, ordinal=1) == (40, "Starter")
    assert services.price_for_ordinal(client=client, ordinal=3) == (40, "Starter")
    assert services.price_for_ordinal(client=client, ordinal=4) == (50, "Default")  # gap 4..9
    assert services.price_for_ordinal(client=client, ordinal=10) == (20, "Volume")
    assert services.price_for_ordinal(client=client, ordinal=10_000) == (20, "Volume")
    # The gap can cost 50, so the hold is 50.
    assert services.hold_amount_for(client=client) == 50


def test_hold_amount_is_the_dearest_tier_when_tiers_cover_everything(make_client, tiers):
    client = make_client()
    tiers(client, ("First", 1, 3, 70), ("Then", 4, None, 30))
    assert services.hold_amount_for(client=client) == 70
    cheap = make_client()
    tiers(cheap, ("All", 1, None, 30))
    assert services.hold_amount_for(client=cheap) == 30
    # Coverage that starts at 2 leaves ordinal 1 at the default price.
    late = make_client()
    tiers(late, ("From two", 2, None, 10))
    assert services.hold_amount_for(client=late) == 50


def test_tiers_are_per_client(make_client, tiers):
    a, b = make_client(), make_client()
    tiers(a, ("A", 1, None, 11))
    assert services.price_for_ordinal(client=b, ordinal=1) == (50, "Default")


# --- months in Kuala Lumpur -----------------------------------------------------


def test_month_bounds_use_kuala_lumpur_time():
    late_january = datetime(2026, 1, 31, 23, 30, tzinfo=KL)  # 15:30 UTC, 31 January
    early_february = datetime(2026, 2, 1, 0, 10, tzinfo=KL)  # 16:10 UTC, still 31 January in UTC
    assert late_january.astimezone(ZoneInfo("UTC")).day == early_february.astimezone(ZoneInfo("UTC")).day == 31
    jan = services.billing_month_bounds(at=late_january)
    feb = services.billing_month_bounds(at=early_february)
    assert jan == (datetime(2026, 1, 1, tzinfo=KL), datetime(2026, 2, 1, tzinfo=KL))
    assert feb == (datetime(2026, 2, 1, tzinfo=KL), datetime(2026, 3, 1, tzinfo=KL))
    assert services.billing_month_bounds(at=datetime(2026, 12, 15, tzinfo=KL))[1] == datetime(2027, 1, 1, tzinfo=KL)


def test_ordinal_restarts_at_the_kuala_lumpur_month(monkeypatch, funded, make_session, tiers):
    client = funded(1000)
    tiers(client, ("First two", 1, 2, 50), ("Bulk", 3, None, 30))
    clock = {"now": datetime(2026, 1, 31, 23, 30, tzinfo=KL)}
    monkeypatch.setattr(timezone, "now", lambda: clock["now"])
    january = [services.session_charge(session=make_session(client)) for _ in range(3)]
    assert [(e.month_ordinal, -e.amount, e.tier_name) for e in january] == [
        (1, 50, "First two"),
        (2, 50, "First two"),
        (3, 30, "Bulk"),
    ]
    clock["now"] = datetime(2026, 2, 1, 0, 10, tzinfo=KL)
    february = services.session_charge(session=make_session(client))
    assert (february.month_ordinal, february.amount, february.tier_name) == (1, -50, "First two")
    assert services.ledger_check() == []


def test_ordinal_counts_crafted_entries_by_kuala_lumpur_month(funded, make_session, tiers):
    client = funded(1000)
    tiers(client, ("First", 1, 1, 50), ("Rest", 2, None, 30))
    start, _ = services.billing_month_bounds()
    last_month = services.session_charge(session=make_session(client))
    this_month = services.session_charge(session=make_session(client))
    # Move them: one a moment before this KL month began, one at its first instant.
    LedgerEntry.objects.filter(pk=last_month.pk).update(created_at=start - timedelta(microseconds=1))
    LedgerEntry.objects.filter(pk=this_month.pk).update(created_at=start)
    entry = services.session_charge(session=make_session(client))
    assert entry.month_ordinal == 2
    assert selectors.month_to_date_usage(client=client) == (2, 30 + 30)


# --- holds --------------------------------------------------------------------


def test_hold_place_release_and_capture(funded, make_session, tiers):
    client = funded(200)
    tiers(client, ("Flat", 1, None, 40))
    session = make_session(client)
    with transaction.atomic():
        hold = services.hold_place(session=session)
    assert (hold.amount, hold.status) == (40, Hold.Status.OPEN)
    account = CreditAccount.objects.get(client=client)
    assert (account.balance, account.held, account.available) == (200, 40, 160)
    assert selectors.available_get(client=client) == 160

    assert services.hold_release(session=session) is True
    assert services.hold_release(session=session) is False  # idempotent
    hold.refresh_from_db()
    assert hold.status == Hold.Status.RELEASED and hold.settled_at is not None
    assert CreditAccount.objects.get(client=client).held == 0

    other = make_session(client)
    with transaction.atomic():
        services.hold_place(session=other)
    entry = services.session_charge(session=other)
    assert entry.amount == -40
    other.hold.refresh_from_db()
    assert other.hold.status == Hold.Status.CAPTURED
    account.refresh_from_db()
    assert (account.balance, account.held) == (160, 0)
    # A captured hold is not released by a late expiry.
    assert services.hold_release(session=other) is False
    assert_ledger_ok()


def test_hold_place_twice_is_refused_by_the_database(funded, make_session):
    from django.db import IntegrityError

    client = funded(500)
    session = make_session(client)
    services.hold_place(session=session)
    with pytest.raises(IntegrityError), transaction.atomic():
        services.hold_place(session=session)
    assert CreditAccount.objects.get(client=client).held == 50
    assert session.hold.amount == 50


def test_insufficient_credits_carries_the_balance(funded, make_session):
    client = funded(120)
    with transaction.atomic():
        services.hold_place(session=make_session(client))
        services.hold_place(session=make_session(client))
    third = make_session(client)
    with pytest.raises(InsufficientCredits) as caught, transaction.atomic():
        services.hold_place(session=third)
    assert caught.value.status_code == 402
    assert caught.value.code == "INSUFFICIENT_CREDITS"
    assert caught.value.extra == {"balance": 120}
    assert not Hold.objects.filter(session=third).exists()
    assert CreditAccount.objects.get(client=client).held == 100


def test_client_without_credits_gets_402_with_zero_balance(make_client, make_session):
    client = make_client()
    with pytest.raises(InsufficientCredits) as caught, transaction.atomic():
        services.hold_place(session=make_session(client))
    assert caught.value.balance == 0


def test_overdraft_client_proceeds_and_may_go_negative(make_client, make_session):
    client = make_client(allow_overdraft=True)
    session = make_session(client)
    hold = services.hold_place(session=session)
    assert hold.amount == 50
    entry = services.session_charge(session=session)
    assert entry.balance_after == -50
    assert selectors.balance_get(client=client) == -50
    assert_ledger_ok()  # negative is fine with overdraft


def test_charge_never_exceeds_hold_even_when_a_dearer_ordinal_lands(funded, make_session, tiers):
    """Holds are the dearest price, so a client without overdraft stays >= 0
    even when sessions complete at another ordinal than expected."""
    client = funded(150)
    tiers(client, ("Intro", 1, 1, 50), ("Cheap", 2, 4, 10), ("After", 5, None, 50))
    sessions = [make_session(client) for _ in range(3)]
    for s in sessions:
        services.hold_place(session=s)
    with pytest.raises(InsufficientCredits), transaction.atomic():
        services.hold_place(session=make_session(client))
    for s in sessions:
        services.session_charge(session=s)
    assert selectors.balance_get(client=client) == 150 - 50 - 10 - 10
    assert CreditAccount.objects.get(client=client).held == 0
    assert_ledger_ok()


def test_test_sessions_are_never_held_or_charged(make_client, make_session):
    client = make_client()  # no credits at all
    session = make_session(client, is_test=True)
    assert services.hold_place(session=session) is None
    assert services.session_charge(session=session) is None
    assert services.hold_release(session=session) is False
    assert not LedgerEntry.objects.filter(client=client).exists()
    assert not Hold.objects.filter(client=client).exists()


# --- charges --------------------------------------------------------------------


def test_charge_is_idempotent(funded, make_session):
    client = funded(500)
    session = make_session(client)
    services.hold_place(session=session)
    first = services.session_charge(session=session)
    assert first is not None
    assert services.session_charge(session=session) is None
    assert usage_entries(client).count() == 1
    assert selectors.balance_get(client=client) == 450
    assert first.description == f"KYC session {session.pk}"
    assert_ledger_ok()


def test_charge_inside_an_outer_transaction_that_rolls_back(funded, make_session):
    client = funded(500)
    session = make_session(client)

    class Abort(Exception):
        pass

    with pytest.raises(Abort):
        with transaction.atomic():
            assert services.session_charge(session=session) is not None
            raise Abort
    assert usage_entries(client).count() == 0
    assert selectors.balance_get(client=client) == 500
    with transaction.atomic():
        assert services.session_charge(session=session) is not None
    assert selectors.balance_get(client=client) == 450


def test_unique_constraint_is_the_last_line_of_defence(funded, make_session, monkeypatch):
    """If the check under the lock were fooled, the constraint refuses the second
    entry and session_charge returns None, leaving the outer transaction usable."""
    client = funded(500)
    session = make_session(client)
    services.session_charge(session=session)
    real, calls = services._usage_exists, {"n": 0}

    def fooled(session_id):
        # The check under the lock misses the existing entry; the post-failure check sees it.
        calls["n"] += 1
        return False if calls["n"] <= 1 else real(session_id)

    monkeypatch.setattr(services, "_usage_exists", fooled)
    with transaction.atomic():
        assert services.session_charge(session=session) is None
        # The outer transaction still works after the savepoint rollback.
        assert LedgerEntry.objects.filter(session=session).count() == 1
    assert selectors.balance_get(client=client) == 450
    assert_ledger_ok()


def test_charge_without_a_hold_still_bills(funded, make_session):
    client = funded(100)
    entry = services.session_charge(session=make_session(client))
    assert (entry.amount, entry.balance_after, entry.month_ordinal, entry.tier_name) == (-50, 50, 1, "Default")


# --- manual credits -------------------------------------------------------------


def test_credit_add_kinds_and_validation(make_client, django_user_model):
    client = make_client()
    user = django_user_model.objects.create_user("fin", password="x")
    entry = services.credit_add(client=client, credits=1000, description="INV-1", created_by=user)
    assert (entry.kind, entry.amount, entry.balance_after, entry.created_by) == ("topup", 1000, 1000, user)
    services.credit_add(client=client, credits=100, kind=LedgerEntry.Kind.INCLUDED)
    services.credit_add(client=client, credits=50, kind=LedgerEntry.Kind.REFUND)
    adj = services.credit_add(client=client, credits=-150, kind=LedgerEntry.Kind.ADJUSTMENT, description="fix")
    assert adj.balance_after == 1000
    for kind in ("topup", "included", "refund"):
        with pytest.raises(BadRequest):
            services.credit_add(client=client, credits=-1, kind=kind)
        with pytest.raises(BadRequest):
            services.credit_add(client=client, credits=0, kind=kind)
    with pytest.raises(BadRequest):
        services.credit_add(client=client, credits=0, kind="adjustment")
    with pytest.raises(BadRequest):
        services.credit_add(client=client, credits=10, kind="usage")
    with pytest.raises(BadRequest):
        services.credit_add(client=client, credits=10, kind="bonus")
    with pytest.raises(BadRequest):
        services.credit_add(client=client, credits=1.5)
    assert selectors.balance_get(client=client) == 1000
    assert_ledger_ok()


def test_negative_adjustment_cannot_take_a_non_overdraft_client_below_zero(funded, make_session):
    client = funded(100)
    with pytest.raises(BadRequest):
        services.credit_add(client=client, credits=-101, kind="adjustment")
    # Nor below what open sessions hold.
    services.hold_place(session=make_session(client))
    with pytest.raises(BadRequest):
        services.credit_add(client=client, credits=-60, kind="adjustment")
    services.credit_add(client=client, credits=-50, kind="adjustment")
    assert selectors.balance_get(client=client) == 50
    overdraft = funded(0, allow_overdraft=True)
    entry = services.credit_add(client=overdraft, credits=-30, kind="adjustment", description="goodwill reversed")
    assert entry.balance_after == -30
    assert_ledger_ok()


def test_account_get_or_create(make_client):
    client = make_client()
    account = services.account_get_or_create(client=client)
    assert services.account_get_or_create(client=client).pk == account.pk
    assert (account.balance, account.held) == (0, 0)
    assert selectors.balance_get(client=client) == 0


def test_ledger_for_client_has_running_balance(funded, make_session):
    client = funded(300)
    services.session_charge(session=make_session(client))
    services.credit_add(client=client, credits=20, kind="refund")
    rows = list(selectors.ledger_for_client(client=client))
    assert [(r.kind, r.amount, r.balance_after) for r in rows] == [
        ("refund", 20, 270),
        ("usage", -50, 250),
        ("topup", 300, 300),
    ]


# --- ledger check ---------------------------------------------------------------


def test_ledger_check_reports_each_kind_of_problem(funded, make_session):
    client = funded(300)
    session = make_session(client)
    services.hold_place(session=session)
    services.session_charge(session=make_session(client))
    assert_ledger_ok()
    CreditAccount.objects.filter(client=client).update(balance=F("balance") + 7, held=F("held") + 1)
    problems = services.ledger_check()
    assert any("balance 257 != sum of ledger entries 250" in p for p in problems)
    assert any("held 51 != sum of open holds 50" in p for p in problems)

    CreditAccount.objects.filter(client=client).update(balance=250, held=50)
    LedgerEntry.objects.filter(client=client, kind="topup").update(balance_after=299)
    assert any("balance_after 299 != running total 300" in p for p in services.ledger_check())
    LedgerEntry.objects.filter(client=client, kind="topup").update(balance_after=300)

    session.status = "expired"
    session.save(update_fields=["status"])
    assert any("hold still open" in p for p in services.ledger_check())
    services.hold_release(session=session)
    assert_ledger_ok()

    CreditAccount.objects.filter(client=client).update(balance=-5)
    assert any("negative balance -5 without overdraft" in p for p in services.ledger_check())


def test_balance_equals_sum_of_entries_after_a_mixed_history(funded, make_session, tiers):
    client = funded(2000)
    tiers(client, ("A", 1, 2, 60), ("B", 3, None, 25))
    sessions = [make_session(client) for _ in range(5)]
    for s in sessions:
        services.hold_place(session=s)
    services.hold_release(session=sessions[0])
    for s in sessions[1:]:
        services.session_charge(session=s)
    services.credit_add(client=client, credits=-15, kind="adjustment", description="x")
    total = LedgerEntry.objects.filter(client=client).aggregate(t=Sum("amount"))["t"]
    assert selectors.balance_get(client=client) == total == 2000 - 60 - 60 - 25 - 25 - 15
    assert_ledger_ok()
