"""Tax invoices, credit notes, payments, overdue, aging, PDFs."""

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from pypdf import PdfReader

from billing import invoices, pdf, services, statements
from billing.models import BillingProfile, Invoice, LedgerEntry, Payment
from billing.money import invoice_amounts
from truestack.errors import BadRequest

from .test_statements import at, complete, worked_example_month

pytestmark = pytest.mark.django_db


def pdf_text(content: bytes) -> str:
    assert content.startswith(b"%PDF-")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def postpaid_january(make_client, make_session, tiers):
    """docs/billing.md, "Worked example": BETA, post-paid, in January 2026."""
    beta = make_client(code="BETA", name="Beta Pay", allow_overdraft=True)
    BillingProfile.objects.create(
        client=beta,
        legal_name="Beta Pay Sdn. Bhd.",
        address="1 Jalan Beta, 10000 George Town",
        registration_number="201901000002",
        billing_email="ap@beta.example",
    )
    tiers(beta, ("Flat", 1, None, 45))
    with at(2026, 1, 2, 10, 0):
        entry, topup_invoice = invoices.topup_record(client=beta, credits=100, description="Transfer 0102")
    for day in range(5, 12):
        with at(2026, 1, day, 12, 0):
            complete(make_session(beta), "approved")
    return beta, topup_invoice


def test_amounts_round_half_up_per_line_and_once_on_the_total():
    lines, amounts = invoice_amounts([315, -100])
    assert lines == [Decimal("31.50"), Decimal("-10.00")]
    assert (amounts.subtotal, amounts.sst_rate, amounts.sst_amount, amounts.total) == (
        Decimal("21.50"),
        Decimal("8.00"),
        Decimal("1.72"),
        Decimal("23.22"),
    )
    # 8 % of RM 9.70 is 0.776: rounded once, half-up, to 0.78.
    assert invoice_amounts([97])[1].sst_amount == Decimal("0.78")
    # At 5 %, RM 0.50 carries 0.025 of tax: half-up makes it 0.03 (half-even would make it 0.02).
    assert invoice_amounts([5], rate=Decimal("5.00"))[1].sst_amount == Decimal("0.03")  # 0.025 -> 0.03


def test_topup_invoice_is_issued_paid_with_sst(make_client, make_session, tiers):
    beta, invoice = postpaid_january(make_client, make_session, tiers)
    assert invoice.number == "TS-2026-000001"
    assert (invoice.kind, invoice.status, invoice.credits) == ("topup", "paid", 100)
    assert (invoice.subtotal, invoice.sst_amount, invoice.total, invoice.amount_paid) == (
        Decimal("10.00"),
        Decimal("0.80"),
        Decimal("10.80"),
        Decimal("10.80"),
    )
    assert invoice.ledger_entry.kind == "topup" and invoice.ledger_entry.amount == 100
    assert (invoice.issue_date, invoice.due_date) == (date(2026, 1, 2), date(2026, 1, 16))
    assert invoice.bill_to["name"] == "Beta Pay Sdn. Bhd."
    assert Payment.objects.get(invoice=invoice).amount == Decimal("10.80")


def test_promotional_credit_has_no_invoice(make_client):
    acme = make_client(code="ACME")
    services.credit_add(client=acme, credits=200, kind="included")
    assert not Invoice.objects.exists()


def test_monthly_invoice_for_postpaid_usage_not_already_paid(make_client, make_session, tiers):
    beta, _ = postpaid_january(make_client, make_session, tiers)
    with at(2026, 2, 1, 0, 30):
        invoice = invoices.monthly_invoice_issue(client=beta, month=date(2026, 1, 1))
        again = invoices.monthly_invoice_issue(client=beta, month=date(2026, 1, 1))
    assert again.pk == invoice.pk
    assert invoice.number == "TS-2026-000002"
    assert invoice.credits == 215  # 7 x 45 = 315 used, 100 prepaid
    assert [line["amount"] for line in invoice.lines] == ["31.50", "-10.00"]
    assert (invoice.subtotal, invoice.sst_amount, invoice.total) == (
        Decimal("21.50"),
        Decimal("1.72"),
        Decimal("23.22"),
    )
    assert (invoice.issue_date, invoice.due_date, invoice.status) == (date(2026, 2, 1), date(2026, 2, 15), "issued")
    # The invoiced debt is settled in credits; February starts from zero.
    assert services.account_get_or_create(client=beta).balance == 0
    # February: 2 more sessions, nothing prepaid -> 90 credits.
    for day in (3, 4):
        with at(2026, 2, day, 12, 0):
            complete(make_session(beta), "rejected")
    with at(2026, 3, 1, 0, 30):
        february = invoices.monthly_invoice_issue(client=beta, month=date(2026, 2, 1))
    assert (february.number, february.credits, february.total) == ("TS-2026-000003", 90, Decimal("9.72"))
    assert statements.statements_check() == []
    assert services.ledger_check() == []


def test_prepaid_client_in_credit_gets_no_monthly_invoice(make_client, make_session, tiers):
    acme = worked_example_month(make_client, make_session, tiers)
    with at(2026, 2, 1, 0, 30):
        assert invoices.monthly_invoice_issue(client=acme, month=date(2026, 1, 1)) is None
    assert not Invoice.objects.filter(kind="monthly").exists()


def test_payments_partial_full_and_overpayment_refused(make_client, make_session, tiers):
    beta, _ = postpaid_january(make_client, make_session, tiers)
    with at(2026, 2, 1, 0, 30):
        invoice = invoices.monthly_invoice_issue(client=beta, month=date(2026, 1, 1))
    with at(2026, 2, 5, 10, 0):
        invoices.payment_record(invoice=invoice, amount="10.00", paid_on=date(2026, 2, 5), method="bank_transfer")
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid, invoice.outstanding) == (
        "partly_paid",
        Decimal("10.00"),
        Decimal("13.22"),
    )
    with at(2026, 2, 6, 10, 0), pytest.raises(BadRequest) as refused:
        invoices.payment_record(invoice=invoice, amount="13.23", paid_on=date(2026, 2, 6), method="fpx")
    assert refused.value.message.startswith("Overpayment refused: TS-2026-000002 has RM 13.22 outstanding")
    for bad in ("0", "-1", "1.005", "abc"):
        with pytest.raises(BadRequest):
            invoices.payment_record(invoice=invoice, amount=bad, paid_on=date(2026, 2, 6), method="fpx")
    with at(2026, 2, 6, 10, 0):
        invoices.payment_record(invoice=invoice, amount="13.22", paid_on=date(2026, 2, 6), method="fpx")
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == ("paid", Decimal("23.22"))


def test_overdue_job_flags_invoices_past_due(make_client, make_session, tiers):
    beta, _ = postpaid_january(make_client, make_session, tiers)
    with at(2026, 2, 1, 0, 30):
        invoice = invoices.monthly_invoice_issue(client=beta, month=date(2026, 1, 1))
    assert invoices.invoices_mark_overdue(on=date(2026, 2, 15)) == 0
    assert invoices.invoices_mark_overdue(on=date(2026, 2, 16)) == 1
    invoice.refresh_from_db()
    assert invoice.status == "overdue"
    with at(2026, 2, 20, 10, 0):
        invoices.payment_record(invoice=invoice, amount="5.00", paid_on=date(2026, 2, 20), method="cash")
    invoice.refresh_from_db()
    assert invoice.status == "overdue"  # still past due with RM 18.22 open
    with at(2026, 2, 20, 10, 0):
        out = io.StringIO()
        call_command("invoices_mark_overdue", stdout=out)
    assert out.getvalue() == "0 invoice(s) marked overdue\n"


def test_void_issues_a_credit_note_and_the_month_can_be_invoiced_again(make_client, make_session, tiers):
    beta, topup_invoice = postpaid_january(make_client, make_session, tiers)
    with at(2026, 2, 1, 0, 30):
        invoice = invoices.monthly_invoice_issue(client=beta, month=date(2026, 1, 1))
    with at(2026, 2, 2, 9, 0):
        note = invoices.invoice_void(invoice=invoice, reason="Wrong tier")
    invoice.refresh_from_db()
    assert invoice.status == "void" and invoice.total == Decimal("23.22")  # the document itself is unchanged
    assert (note.number, note.kind, note.original_id, note.total) == (
        "CN-2026-000001",
        "credit_note",
        invoice.pk,
        Decimal("23.22"),
    )
    assert note.ledger_entry.amount == -215
    with pytest.raises(BadRequest, match="already void"):
        invoices.invoice_void(invoice=invoice, reason="again")
    with pytest.raises(BadRequest, match="void"):
        invoices.payment_record(invoice=invoice, amount="1.00", paid_on=date(2026, 2, 2), method="cash")
    # February's invoice bills February's usage plus January's, which is owed again.
    with at(2026, 3, 1, 0, 30):
        february = invoices.monthly_invoice_issue(client=beta, month=date(2026, 2, 1))
    assert february.credits == 215
    assert statements.statements_check() == []
    assert services.ledger_check() == []


def test_aging_report_buckets_outstanding_by_invoice_age(make_client, make_session, tiers):
    beta, _ = postpaid_january(make_client, make_session, tiers)
    with at(2026, 2, 1, 0, 30):
        invoice = invoices.monthly_invoice_issue(client=beta, month=date(2026, 1, 1))
    assert invoices.aging_report(on=date(2026, 3, 5)) == [  # 32 days old
        {
            "client": "BETA",
            "name": "Beta Pay",
            "invoices": 1,
            "0-30": Decimal("0.00"),
            "31-60": Decimal("23.22"),
            "61-90": Decimal("0.00"),
            "90+": Decimal("0.00"),
            "total": Decimal("23.22"),
        }
    ]
    assert invoices.aging_report(on=invoice.issue_date + timedelta(days=91))[0]["90+"] == Decimal("23.22")


def test_monthly_job_twice_issues_once(make_client, make_session, tiers):
    beta, _ = postpaid_january(make_client, make_session, tiers)
    worked_example_month(make_client, make_session, tiers)
    with at(2026, 2, 1, 0, 30):
        first = invoices.monthly_documents_generate()
        second = invoices.monthly_documents_generate()
    assert first["month"] == date(2026, 1, 1)
    assert sorted(s.client.code for s in first["statements"]) == ["ACME", "BETA"]
    assert [i.number for i in first["invoices"]] == ["TS-2026-000002"]
    assert second["statements"] == [] and second["invoices"] == []


def test_topup_command_issues_the_tax_invoice(make_client):
    make_client(code="ACME")
    out, err = io.StringIO(), io.StringIO()
    call_command("topup", "ACME", "1000", "--description", "INV-7", stdout=out, stderr=err)
    assert out.getvalue() == "ACME: topup +1000 credits; balance 1000 credits\n"
    invoice = Invoice.objects.get()
    assert err.getvalue().startswith(f"ACME: tax invoice {invoice.number} issued, RM 108.00 paid")
    call_command("topup", "ACME", "100", "--kind", "included", stdout=out, stderr=err)
    assert Invoice.objects.count() == 1
    with pytest.raises(CommandError):
        call_command("topup", "ACME", "-5", stdout=out, stderr=err)
    assert Invoice.objects.count() == 1 and LedgerEntry.objects.count() == 2


def test_statement_and_invoice_pdfs_read_back(make_client, make_session, tiers):
    acme = worked_example_month(make_client, make_session, tiers)
    beta, _ = postpaid_january(make_client, make_session, tiers)
    with at(2026, 2, 1, 0, 30):
        statement, _ = statements.statement_generate(client=acme, month=date(2026, 1, 1))
        invoice = invoices.monthly_invoice_issue(client=beta, month=date(2026, 1, 1))
    text = pdf_text(pdf.document_pdf(statement))
    for expected in (
        "Statement January 2026",
        "Period: 01 Jan 2026 to 31 Jan 2026",
        "Acme Lending",
        "Closing balance 1,025",
        "Closing balance in RM RM 102.50",
        "Starter 3 2 1 150",
        "Volume 2 2 0 60",
        "Usage (5 sessions) -210",
        "Reg. No. 202601000001",
        "SST No. W10-2601-32000001",
    ):
        assert expected in text, expected
    assert default_storage.exists(statement.pdf_path)
    assert statement.pdf_path.startswith(f"billing/{acme.pk}/")
    text = pdf_text(pdf.document_pdf(invoice))
    for expected in (
        "Tax Invoice TS-2026-000002",
        "Beta Pay Sdn. Bhd.",
        "Subtotal (service amount) RM 21.50",
        "SST 8% RM 1.72",
        "Total RM 23.22",
        "Due date 15 Feb 2026",
    ):
        assert expected in text, expected
    # Stored once: a second read returns the stored bytes.
    assert pdf.document_pdf(invoice) == default_storage.open(invoice.pdf_path).read()


def test_voiding_a_topup_takes_its_credits_back_unless_spent(make_client, make_session):
    acme = make_client(code="ACME")
    _, first = invoices.topup_record(client=acme, credits=1000, description="T1")
    note = invoices.invoice_void(invoice=first, reason="Paid twice by mistake")
    assert note.number.startswith("CN-") and note.ledger_entry.amount == -1000
    assert services.account_get_or_create(client=acme).balance == 0
    _, second = invoices.topup_record(client=acme, credits=100, description="T2")
    services.hold_place(session=make_session(acme))  # 50 held by an open session
    with pytest.raises(BadRequest, match="Adjustment refused"):
        invoices.invoice_void(invoice=second, reason="x")
    second.refresh_from_db()
    assert second.status == "paid" and not Invoice.objects.filter(original=second).exists()
    assert Invoice.objects.filter(kind="credit_note").count() == 1  # the refused void used no CN number
    assert services.ledger_check() == []
