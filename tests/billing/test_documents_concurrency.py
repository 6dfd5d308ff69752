"""Billing documents under real concurrency (PostgreSQL row locks, threads)."""

from datetime import date
from decimal import Decimal

import pytest
from django.db.models import Sum

from billing import invoices, statements
from billing.models import Invoice, InvoiceCounter, Payment, Statement
from truestack.errors import BadRequest

from .test_concurrency import run_concurrently
from .test_invoices import postpaid_january
from .test_statements import at, complete, worked_example_month

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_monthly_job_run_twice_at_once_issues_each_document_once(make_client, make_session, tiers):
    worked_example_month(make_client, make_session, tiers)
    postpaid_january(make_client, make_session, tiers)
    gamma = make_client(code="GAMMA", allow_overdraft=True)
    tiers(gamma, ("Flat", 1, None, 20))
    for day in (6, 7, 8):
        with at(2026, 1, day, 12, 0):
            complete(make_session(gamma), "approved")

    # The clock is set once, around all the threads: patching it inside each thread
    # would interleave the patches and leave a fake clock behind.
    with at(2026, 2, 1, 0, 30):
        results, errors = run_concurrently([invoices.monthly_documents_generate] * 4)
    assert errors == [None] * 4
    assert Statement.objects.filter(month=date(2026, 1, 1)).count() == 3
    monthly = Invoice.objects.filter(kind="monthly").select_related("client")
    assert sorted((i.client.code, i.credits) for i in monthly) == [("BETA", 215), ("GAMMA", 60)]
    assert sum(len(r["statements"]) for r in results) == 3
    assert sum(len(r["invoices"]) for r in results) == 2
    # Gap-free: the top-up invoice was 000001, the two monthly ones follow with no hole.
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == ["TS-2026-000001", "TS-2026-000002", "TS-2026-000003"]
    assert InvoiceCounter.objects.get(series="TS", year=2026).last_number == 3
    assert statements.statements_check() == []


def test_concurrent_topup_invoices_get_gap_free_numbers(make_client):
    clients = [make_client(code=f"C{n}") for n in range(8)]

    def topup(client):
        def _run():
            return invoices.topup_record(client=client, credits=101)[1].number

        return _run

    # Two of them fail (invalid credits) after taking a number: it must be given back.
    failing = [lambda: invoices.topup_record(client=clients[0], credits=0)] * 2
    results, errors = run_concurrently([topup(c) for c in clients] + failing)
    assert all(isinstance(e, BadRequest) for e in errors[8:]) and errors[:8] == [None] * 8
    year = invoices.today().year
    assert sorted(results[:8]) == [f"TS-{year}-{n:06d}" for n in range(1, 9)]
    assert InvoiceCounter.objects.get(series="TS", year=year).last_number == 8


def test_payment_race_for_the_last_ringgit_never_overpays(make_client, make_session, tiers):
    beta, _ = postpaid_january(make_client, make_session, tiers)
    with at(2026, 2, 1, 0, 30):
        invoice = invoices.monthly_invoice_issue(client=beta, month=date(2026, 1, 1))
    invoices.payment_record(invoice=invoice, amount="13.22", paid_on=date(2026, 2, 2), method="bank_transfer")

    def pay():
        return invoices.payment_record(invoice=invoice, amount="10.00", paid_on=date(2026, 2, 3), method="fpx")

    results, errors = run_concurrently([pay] * 6)
    assert sum(r is not None for r in results) == 1
    refused = [e for e in errors if e is not None]
    assert len(refused) == 5
    assert all(isinstance(e, BadRequest) and e.message.startswith("Overpayment refused") for e in refused)
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == ("paid", Decimal("23.22"))
    assert Payment.objects.filter(invoice=invoice).aggregate(t=Sum("amount"))["t"] == Decimal("23.22")
