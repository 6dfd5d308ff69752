"""Finance pages for statements, invoices, payments and the aging report, per role."""

import csv
import io
from datetime import date

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from billing import invoices, statements
from billing.models import Invoice, Payment, Statement

from .test_invoices import pdf_text, postpaid_january
from .test_statements import at

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged_in(client, django_user_model):
    def _login(role):
        if role == "superuser":
            user = django_user_model.objects.create_superuser("root", password="pw")
        else:
            user = django_user_model.objects.create_user(f"{role}-user", password="pw", is_staff=True)
            user.groups.add(Group.objects.get(name=role))
        client.force_login(user)
        client.user = user
        return client

    return _login


@pytest.fixture
def january(make_client, make_session, tiers):
    beta, topup_invoice = postpaid_january(make_client, make_session, tiers)
    with at(2026, 2, 1, 0, 30):
        monthly = invoices.monthly_invoice_issue(client=beta, month=date(2026, 1, 1))
    return beta, topup_invoice, monthly


def urls(monthly, statement):
    return [
        reverse("admin:billing_invoice_changelist"),
        reverse("admin:billing_invoice_change", args=[monthly.pk]),
        reverse("admin:billing_invoice_pdf", args=[monthly.pk]),
        reverse("admin:billing_invoice_payment", args=[monthly.pk]),
        reverse("admin:billing_invoice_void", args=[monthly.pk]),
        reverse("admin:billing_invoice_issue_monthly"),
        reverse("admin:billing_invoice_aging"),
        reverse("admin:billing_statement_changelist"),
        reverse("admin:billing_statement_generate"),
        reverse("admin:billing_statement_pdf", args=[statement.pk]),
        reverse("admin:billing_billingprofile_changelist"),
    ]


def test_ops_staff_are_refused_every_billing_document_page(logged_in, january):
    _, _, monthly = january
    ops = logged_in("ops")
    for url in urls(monthly, Statement.objects.get()):
        assert ops.get(url).status_code == 403, url
    assert ops.post(reverse("admin:billing_invoice_payment", args=[monthly.pk]), {"amount": "1"}).status_code == 403
    assert not Payment.objects.filter(invoice=monthly).exists()


@pytest.mark.parametrize("role", ["finance", "superuser"])
def test_finance_and_superusers_see_every_page(logged_in, january, role):
    _, _, monthly = january
    user = logged_in(role)
    for url in urls(monthly, Statement.objects.get()):
        assert user.get(url).status_code == 200, url


def test_invoice_list_and_pdf_download(logged_in, january):
    _, topup_invoice, monthly = january
    finance = logged_in("finance")
    page = finance.get(reverse("admin:billing_invoice_changelist")).content.decode()
    assert "TS-2026-000001" in page and "TS-2026-000002" in page and "Record payment" in page
    response = finance.get(reverse("admin:billing_invoice_pdf", args=[monthly.pk]))
    assert response["Content-Type"] == "application/pdf"
    assert "Total RM 23.22" in pdf_text(response.content)


def test_record_payment_partial_then_overpayment_refused(logged_in, january):
    _, _, monthly = january
    finance = logged_in("finance")
    url = reverse("admin:billing_invoice_payment", args=[monthly.pk])
    form = {"amount": "20.00", "paid_on": "2026-02-03", "method": "bank_transfer", "reference": "MBB 1"}
    with at(2026, 2, 3, 10, 0):
        response = finance.post(url, form)
    assert response.status_code == 302
    monthly.refresh_from_db()
    assert (monthly.status, str(monthly.amount_paid)) == ("partly_paid", "20.00")
    assert Payment.objects.get(invoice=monthly).created_by == finance.user
    with at(2026, 2, 4, 10, 0):
        refused = finance.post(url, dict(form, amount="3.23"))
    assert refused.status_code == 200
    assert "Overpayment refused: TS-2026-000002 has RM 3.22 outstanding" in refused.content.decode()
    assert Payment.objects.filter(invoice=monthly).count() == 1


def test_void_issues_credit_note(logged_in, january):
    _, _, monthly = january
    finance = logged_in("finance")
    with at(2026, 2, 3, 10, 0):
        response = finance.post(reverse("admin:billing_invoice_void", args=[monthly.pk]), {"reason": "Wrong tier"})
    note = Invoice.objects.get(kind="credit_note")
    assert response.status_code == 302 and response["Location"] == reverse(
        "admin:billing_invoice_change", args=[note.pk]
    )
    assert (note.number, note.original_id, note.note) == ("CN-2026-000001", monthly.pk, "Wrong tier")
    monthly.refresh_from_db()
    assert monthly.status == "void"


def test_issue_statements_and_monthly_invoices_from_the_portal(logged_in, make_client):
    from billing import services

    acme = make_client(code="ACME", allow_overdraft=True)
    with at(2026, 3, 10, 10, 0):
        services.credit_add(client=acme, credits=-120, kind="adjustment", description="Migrated debt")
    finance = logged_in("finance")
    with at(2026, 4, 2, 10, 0):
        bad = finance.post(reverse("admin:billing_statement_generate"), {"month": "2026-4"})
        assert bad.status_code == 200 and "YYYY-MM" in bad.content.decode()
        ok = finance.post(reverse("admin:billing_statement_generate"), {"month": "2026-03"})
        assert ok.status_code == 302
        assert Statement.objects.get(client=acme).closing_balance == -120
        issued = finance.post(reverse("admin:billing_invoice_issue_monthly"), {"month": "2026-03", "client": acme.pk})
    assert issued.status_code == 302
    invoice = Invoice.objects.get(kind="monthly")
    assert (invoice.credits, str(invoice.total)) == (120, "12.96")
    assert statements.statements_check() == []


def test_aging_report_csv(logged_in, january):
    finance = logged_in("finance")
    with at(2026, 3, 5, 10, 0):
        response = finance.get(reverse("admin:billing_invoice_aging"))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows == [
        ["client", "name", "invoices", "0-30 days", "31-60 days", "61-90 days", "90+ days", "total"],
        ["BETA", "Beta Pay", "1", "0.00", "23.22", "0.00", "0.00", "23.22"],
        ["TOTAL", "", "1", "0.00", "23.22", "0.00", "0.00", "23.22"],
    ]


def test_add_credits_form_issues_the_tax_invoice_for_a_paid_topup(logged_in, make_client):
    import uuid

    acme = make_client(code="ACME")
    finance = logged_in("finance")
    url = reverse("admin:clients_client_topup", args=[acme.pk])
    response = finance.post(url, {"credits": 500, "kind": "topup", "description": "MBB 77", "token": uuid.uuid4().hex})
    assert response.status_code == 302
    invoice = Invoice.objects.get()
    assert (invoice.kind, invoice.status, str(invoice.total), invoice.created_by) == (
        "topup",
        "paid",
        "54.00",
        finance.user,
    )
    assert invoice.payments.get().reference == "MBB 77"
    promo = finance.post(url, {"credits": 100, "kind": "included", "description": "", "token": uuid.uuid4().hex})
    assert promo.status_code == 302 and Invoice.objects.count() == 1
