"""Statements: figures from the ledger, frozen once issued, reconciled by statements_check."""

import io
from contextlib import contextmanager
from datetime import date, datetime
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from billing import services, statements
from billing.models import Statement
from kyc.models import KycSession
from truestack.errors import BadRequest

pytestmark = pytest.mark.django_db
KL = ZoneInfo("Asia/Kuala_Lumpur")


@contextmanager
def at(*args):
    """Run with the clock at a Kuala Lumpur wall time (process-wide: enter it from
    the test's own thread, never from worker threads)."""
    moment = datetime(*args, tzinfo=KL)
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield moment


def complete(session, result):
    KycSession.objects.filter(pk=session.pk).update(status=KycSession.Status.COMPLETED, result=result)
    session.refresh_from_db()
    return services.session_charge(session=session)


def worked_example_month(make_client, make_session, tiers):
    """docs/billing.md, "Worked example": ACME in January 2026."""
    acme = make_client(code="ACME", name="Acme Lending")
    tiers(acme, ("Starter", 1, 3, 50), ("Volume", 4, None, 30))
    with at(2026, 1, 3, 10, 0):
        services.credit_add(client=acme, credits=1000, description="Bank transfer")
    with at(2026, 1, 5, 9, 0):
        services.credit_add(client=acme, credits=200, kind="included", description="Welcome credits")
    results = ["approved", "rejected", "approved", "approved", "approved"]
    for day, result in zip((6, 7, 8, 9, 10), results):
        with at(2026, 1, day, 12, 0):
            complete(make_session(acme), result)
    with at(2026, 1, 20, 15, 0):
        services.credit_add(client=acme, credits=50, kind="refund", description="Disputed session")
    with at(2026, 1, 25, 11, 0):
        services.credit_add(client=acme, credits=-15, kind="adjustment", description="Correction")
    return acme


def test_worked_example_statement_equals_the_ledger(make_client, make_session, tiers):
    acme = worked_example_month(make_client, make_session, tiers)
    with at(2026, 2, 1, 0, 30):
        statement, issued = statements.statement_generate(client=acme, month=date(2026, 1, 1))
    assert issued == [statement]
    assert (statement.opening_balance, statement.closing_balance) == (0, 1025)
    assert (statement.topup_credits, statement.included_credits) == (1000, 200)
    assert (statement.refund_credits, statement.adjustment_credits) == (50, -15)
    assert (statement.usage_sessions, statement.usage_credits) == (5, 210)
    assert statement.usage_by_tier == [
        {"tier": "Starter", "sessions": 3, "credits": 150, "approved": 2, "rejected": 1},
        {"tier": "Volume", "sessions": 2, "credits": 60, "approved": 2, "rejected": 0},
    ]
    assert [(line["date"], line["kind"], line["credits"]) for line in statement.credit_lines] == [
        ("2026-01-03", "topup", 1000),
        ("2026-01-05", "included", 200),
        ("2026-01-20", "refund", 50),
        ("2026-01-25", "adjustment", -15),
    ]
    assert statement.closing_balance == services.account_get_or_create(client=acme).balance
    assert statements.statements_check() == []


def test_months_are_kuala_lumpur_months(make_client, make_session):
    acme = make_client(code="ACME")
    with at(2026, 1, 31, 23, 50):  # 15:50 UTC on 31 January
        services.credit_add(client=acme, credits=100)
    with at(2026, 2, 1, 0, 10):  # still 31 January in UTC, but February in Kuala Lumpur
        services.credit_add(client=acme, credits=7)
    with at(2026, 3, 2, 8, 0):
        january, _ = statements.statement_generate(client=acme, month=date(2026, 1, 1))
        february, _ = statements.statement_generate(client=acme, month=date(2026, 2, 1))
    assert (january.topup_credits, january.closing_balance) == (100, 100)
    assert (february.opening_balance, february.topup_credits, february.closing_balance) == (100, 7, 107)


def test_generating_twice_issues_once_and_fills_missing_months(make_client):
    acme = make_client(code="ACME")
    with at(2026, 1, 10, 10, 0):
        services.credit_add(client=acme, credits=500)
    with at(2026, 4, 2, 9, 0):
        march, issued = statements.statement_generate(client=acme, month=date(2026, 3, 1))
        assert [s.month for s in issued] == [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)]
        again, issued_again = statements.statement_generate(client=acme, month=date(2026, 3, 1))
    assert again.pk == march.pk and issued_again == []
    assert Statement.objects.filter(client=acme).count() == 3
    assert [s.closing_balance for s in Statement.objects.filter(client=acme).order_by("month")] == [500, 500, 500]
    assert statements.statements_check() == []


def test_late_entry_does_not_rewrite_an_issued_statement(make_client):
    acme = make_client(code="ACME")
    with at(2026, 1, 10, 10, 0):
        services.credit_add(client=acme, credits=500)
    with at(2026, 2, 1, 0, 30):
        january, _ = statements.statement_generate(client=acme, month=date(2026, 1, 1))
    # An entry that still carries a January timestamp but is written after the
    # statement (a refund decided for a January session, recorded late).
    with at(2026, 1, 31, 23, 59):
        services.credit_add(client=acme, credits=40, kind="refund", description="January dispute")
    january.refresh_from_db()
    assert (january.refund_credits, january.closing_balance) == (0, 500)
    with at(2026, 3, 1, 0, 30):
        february, _ = statements.statement_generate(client=acme, month=date(2026, 2, 1))
    assert (february.opening_balance, february.refund_credits, february.closing_balance) == (500, 40, 540)
    assert [line["description"] for line in february.credit_lines] == ["January dispute"]
    assert statements.statements_check() == []


def test_statements_check_reports_a_tampered_statement(make_client):
    acme = make_client(code="ACME")
    with at(2026, 1, 10, 10, 0):
        services.credit_add(client=acme, credits=500)
    with at(2026, 2, 1, 0, 30):
        statement, _ = statements.statement_generate(client=acme, month=date(2026, 1, 1))
    Statement.objects.filter(pk=statement.pk).update(topup_credits=499, closing_balance=499)
    problems = statements.statements_check()
    assert "ACME 2026-01: topup_credits 499 != ledger 500" in problems
    assert "ACME 2026-01: closing 499 != ledger total 500" in problems
    out = io.StringIO()
    with pytest.raises(CommandError, match="statement problem"):
        call_command("statements_check", stdout=out)
    assert "topup_credits 499" in out.getvalue()


def test_only_past_months_and_bad_months_are_refused(make_client):
    acme = make_client(code="ACME")
    with at(2026, 2, 10, 10, 0):
        with pytest.raises(BadRequest, match="not over yet"):
            statements.statement_generate(client=acme, month=date(2026, 2, 1))
    for bad in ("2026-13", "2026-1", "January", ""):
        with pytest.raises(BadRequest, match="YYYY-MM"):
            statements.month_parse(bad)


def test_client_without_ledger_gets_no_statement(make_client):
    acme = make_client(code="ACME")
    with at(2026, 2, 10, 10, 0):
        assert statements.statement_generate(client=acme, month=date(2026, 1, 1)) == (None, [])


def test_commands_generate_and_check(make_client, make_session, tiers):
    worked_example_month(make_client, make_session, tiers)
    out = io.StringIO()
    with at(2026, 2, 1, 1, 0):
        call_command("statements_generate", "--month", "2026-01", stdout=out)
        call_command("statements_generate", "--month", "2026-01", "--client", "ACME", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "statement ACME 2026-01: closing 1025 credits"
    assert lines[1] == "2026-01: 1 statement(s) and 0 invoice(s) issued"
    assert lines[2] == "2026-01: 0 statement(s) and 0 invoice(s) issued"
    check = io.StringIO()
    call_command("statements_check", stdout=check)
    assert check.getvalue() == "OK\n"
    with pytest.raises(CommandError, match="YYYY-MM"):
        call_command("statements_generate", "--month", "26-1", stdout=out)
