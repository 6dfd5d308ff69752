"""Tax invoices, credit notes and payments.

Numbers: `TS-2026-000123` for invoices, `CN-2026-000001` for credit notes, each
series sequential and gap-free per year: the number is taken from a locked
counter row in the transaction that creates the document, so a rollback gives
the number back. Lock order everywhere: invoice row, counter, credit account."""

import logging
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from truestack.errors import BadRequest

from . import services, statements
from .models import BillingProfile, Invoice, InvoiceCounter, LedgerEntry, Payment, Statement
from .money import format_rm, invoice_amounts

logger = logging.getLogger(__name__)

INVOICE_SERIES = "TS"
CREDIT_NOTE_SERIES = "CN"
OPEN_STATUSES = (Invoice.Status.ISSUED, Invoice.Status.PARTLY_PAID, Invoice.Status.OVERDUE)
AGING_BUCKETS = (("0-30", 0, 30), ("31-60", 31, 60), ("61-90", 61, 90), ("90+", 91, None))


def today() -> date:
    return timezone.now().astimezone(ZoneInfo(settings.BILLING_TIME_ZONE)).date()


# --- numbering ----------------------------------------------------------------------


def _take_number(*, series: str, year: int) -> str:
    """The next number of a series; call inside the transaction that creates the document."""
    counter = InvoiceCounter.objects.select_for_update().filter(series=series, year=year).first()
    if counter is None:
        with transaction.atomic():  # savepoint: a concurrent first invoice of the year may insert it too
            InvoiceCounter.objects.bulk_create([InvoiceCounter(series=series, year=year)], ignore_conflicts=True)
        counter = InvoiceCounter.objects.select_for_update().get(series=series, year=year)
    counter.last_number += 1
    InvoiceCounter.objects.filter(pk=counter.pk).update(last_number=counter.last_number)
    return f"{series}-{year}-{counter.last_number:06d}"


# --- client details -----------------------------------------------------------------


def billing_profile_get(*, client) -> BillingProfile | None:
    return BillingProfile.objects.filter(client_id=getattr(client, "pk", client)).first()


def bill_to(*, client) -> dict:
    """The client's billing details as they are printed on a document."""
    profile = billing_profile_get(client=client)
    return {
        "code": client.code,
        "name": (profile.legal_name if profile and profile.legal_name else client.name),
        "address": profile.address if profile else "",
        "registration_number": profile.registration_number if profile else "",
        "sst_number": profile.sst_number if profile else "",
        "email": (profile.billing_email if profile and profile.billing_email else client.contact_email),
    }


def payment_terms_days(*, client) -> int:
    profile = billing_profile_get(client=client)
    if profile is not None and profile.payment_terms_days is not None:
        return profile.payment_terms_days
    return settings.BILLING_PAYMENT_TERMS_DAYS


def _create(
    *,
    client,
    kind: str,
    number: str,
    lines: list[tuple[str, int]],
    issued_on: date,
    created_by=None,
    **fields,
) -> Invoice:
    amounts_per_line, amounts = invoice_amounts([credits for _, credits in lines])
    return Invoice.objects.create(
        number=number,
        kind=kind,
        client=client,
        issue_date=issued_on,
        due_date=issued_on + timedelta(days=payment_terms_days(client=client)),
        credits=sum(credits for _, credits in lines),
        lines=[
            {"description": text, "credits": credits, "amount": str(amount)}
            for (text, credits), amount in zip(lines, amounts_per_line, strict=True)
        ],
        subtotal=amounts.subtotal,
        sst_rate=amounts.sst_rate,
        sst_amount=amounts.sst_amount,
        total=amounts.total,
        bill_to=bill_to(client=client),
        created_by=created_by,
        **fields,
    )


# --- top-up tax invoices --------------------------------------------------------------


def topup_record(
    *,
    client,
    credits: int,
    description: str = "",
    created_by=None,
    paid_on: date | None = None,
    method: str = Payment.Method.BANK_TRANSFER,
    reference: str = "",
) -> tuple[LedgerEntry, Invoice]:
    """A paid top-up: the credits, a tax invoice for them and its payment, in
    one transaction (so there is never a top-up without its invoice)."""
    issued_on = today()
    with transaction.atomic():
        number = _take_number(series=INVOICE_SERIES, year=issued_on.year)
        entry = services.credit_add(
            client=client, credits=credits, kind=LedgerEntry.Kind.TOPUP, description=description, created_by=created_by
        )
        invoice = _create(
            client=client,
            kind=Invoice.Kind.TOPUP,
            number=number,
            lines=[(f"TrueStack KYC credits ({credits:,} credits)", credits)],
            issued_on=issued_on,
            ledger_entry=entry,
            note=description,
            created_by=created_by,
        )
        _payment_add(
            invoice=invoice,
            amount=invoice.total,
            paid_on=paid_on or issued_on,
            method=method,
            reference=reference or description,
            created_by=created_by,
        )
    logger.info("billing: top-up invoice %s issued for client %s", invoice.number, client.pk)
    return entry, invoice


# --- monthly invoices (post-paid) ---------------------------------------------------


def _settled_outside(statement: Statement) -> int:
    """Credits moved by monthly invoices of earlier months (their settling credit,
    or a credit note's reversal) that `statement` does not yet include."""
    linked = LedgerEntry.objects.filter(
        Q(invoice__kind=Invoice.Kind.MONTHLY, invoice__period_month__lt=statement.month)
        | Q(invoice__kind=Invoice.Kind.CREDIT_NOTE, invoice__original__period_month__lt=statement.month),
        client_id=statement.client_id,
    ).exclude(id__lte=statement.cut_entry_id, created_at__lt=statement.period_end)
    return linked.aggregate(total=Sum("amount"))["total"] or 0


def monthly_billable_credits(*, statement: Statement) -> int:
    """The month's usage not already paid for: what the client owes at the end of
    the month, less what earlier monthly invoices settled after it."""
    return max(0, -(statement.closing_balance + _settled_outside(statement)))


def monthly_invoice_issue(*, client, month: date, created_by=None) -> Invoice | None:
    """The monthly invoice of a client whose month closed in debt (post-paid,
    i.e. overdraft allowed). Issues the month's statement first if needed.
    Idempotent: returns the existing invoice, or None when nothing is owed."""
    return monthly_invoice_get_or_issue(client=client, month=month, created_by=created_by)[0]


def monthly_invoice_get_or_issue(*, client, month: date, created_by=None) -> tuple[Invoice | None, bool]:
    """(invoice or None, whether this call issued it)."""
    statement, _ = statements.statement_generate(client=client, month=month, created_by=created_by)
    if statement is None:
        return None, False
    issued_on = today()
    try:
        with transaction.atomic():
            number = _take_number(series=INVOICE_SERIES, year=issued_on.year)
            # Checked under the counter lock, which every invoice creation holds.
            existing = Invoice.objects.filter(client=client, kind=Invoice.Kind.MONTHLY, period_month=month).first()
            if existing is not None:
                transaction.set_rollback(True)  # gives the number back
                return existing, False
            if Invoice.objects.filter(client=client, kind=Invoice.Kind.MONTHLY, period_month__gt=month).exists():
                raise BadRequest(
                    f"{client.code} already has a monthly invoice after {month:%Y-%m}; months are billed in order"
                )
            billable = monthly_billable_credits(statement=statement)
            if billable == 0:
                transaction.set_rollback(True)
                return None, False
            lines = [
                (f"KYC sessions {month:%B %Y}, {row['tier']}: {row['sessions']} sessions", row["credits"])
                for row in statement.usage_by_tier
            ]
            if billable != statement.usage_credits:
                lines.append(("Prepaid credits, refunds and adjustments applied", billable - statement.usage_credits))
            settlement = services.credit_add(
                client=client,
                credits=billable,
                kind=LedgerEntry.Kind.TOPUP,
                description=f"Invoiced: {number} ({month:%Y-%m})",
                created_by=created_by,
            )
            invoice = _create(
                client=client,
                kind=Invoice.Kind.MONTHLY,
                number=number,
                lines=lines,
                issued_on=issued_on,
                period_month=month,
                ledger_entry=settlement,
                created_by=created_by,
            )
    except IntegrityError:
        return Invoice.objects.get(client=client, kind=Invoice.Kind.MONTHLY, period_month=month), False
    logger.info("billing: monthly invoice %s issued for client %s", invoice.number, client.pk)
    return invoice, True


def monthly_documents_generate(*, month: date | None = None, created_by=None) -> dict:
    """The monthly job: every client's statement for `month` (default: the month
    before this one), then the monthly invoices. Safe to run twice, even at once."""
    from clients.models import Client

    month = month or statements.month_previous(statements.current_month())
    issued = statements.statements_generate_for_month(month=month, created_by=created_by)
    invoices = []
    debtors = Statement.objects.filter(month=month, closing_balance__lt=0).values_list("client_id", flat=True)
    for client in Client.objects.filter(pk__in=list(debtors)).order_by("code"):
        invoice, created = monthly_invoice_get_or_issue(client=client, month=month, created_by=created_by)
        if created:
            invoices.append(invoice)
    return {"month": month, "statements": issued, "invoices": invoices}


# --- voiding ----------------------------------------------------------------------


def invoice_void(*, invoice: Invoice, reason: str, created_by=None) -> Invoice:
    """Void an invoice by issuing a credit note that references it. The credits
    the invoice stands for are taken back (a top-up's credits, or the credit a
    monthly invoice settled, so that usage can be invoiced again)."""
    reason = (reason or "").strip()
    if not reason:
        raise BadRequest("Say why the invoice is voided")
    issued_on = today()
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().select_related("client").get(pk=invoice.pk)
        if invoice.kind == Invoice.Kind.CREDIT_NOTE:
            raise BadRequest("A credit note cannot be voided")
        if invoice.status == Invoice.Status.VOID:
            raise BadRequest(f"{invoice.number} is already void")
        number = _take_number(series=CREDIT_NOTE_SERIES, year=issued_on.year)
        reversal = None
        if invoice.credits:
            reversal = services.credit_add(
                client=invoice.client,
                credits=-invoice.credits,
                kind=LedgerEntry.Kind.ADJUSTMENT,
                description=f"Credit note {number} voids {invoice.number}",
                created_by=created_by,
            )
        note = Invoice.objects.create(
            number=number,
            kind=Invoice.Kind.CREDIT_NOTE,
            client=invoice.client,
            issue_date=issued_on,
            due_date=issued_on,
            period_month=invoice.period_month,
            ledger_entry=reversal,
            credits=invoice.credits,
            lines=invoice.lines,
            subtotal=invoice.subtotal,
            sst_rate=invoice.sst_rate,
            sst_amount=invoice.sst_amount,
            total=invoice.total,
            bill_to=invoice.bill_to,
            original=invoice,
            note=reason[:255],
            created_by=created_by,
        )
        Invoice.objects.filter(pk=invoice.pk).update(status=Invoice.Status.VOID)
    logger.info("billing: %s voided by credit note %s", invoice.number, note.number)
    return note


# --- payments ---------------------------------------------------------------------


def _status_after_payment(invoice: Invoice, amount_paid: Decimal, on: date) -> str:
    if amount_paid >= invoice.total:
        return Invoice.Status.PAID
    if invoice.due_date < on:
        return Invoice.Status.OVERDUE
    return Invoice.Status.PARTLY_PAID if amount_paid > 0 else Invoice.Status.ISSUED


def _payment_add(*, invoice: Invoice, amount: Decimal, paid_on: date, method: str, reference: str, created_by):
    paid = invoice.amount_paid + amount
    payment = Payment.objects.create(
        invoice=invoice, paid_on=paid_on, amount=amount, method=method, reference=reference[:100], created_by=created_by
    )
    status = _status_after_payment(invoice, paid, today())
    Invoice.objects.filter(pk=invoice.pk).update(amount_paid=paid, status=status)
    invoice.amount_paid, invoice.status = paid, status
    return payment


def _amount(value) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise BadRequest("amount must be a number of ringgit, e.g. 10.50") from None
    if not amount.is_finite() or amount <= 0:
        raise BadRequest("amount must be more than zero")
    if amount != amount.quantize(Decimal("0.01")):
        raise BadRequest("amount must be in ringgit and sen (at most two decimals)")
    return amount.quantize(Decimal("0.01"))


def payment_record(
    *, invoice: Invoice, amount, paid_on: date, method: str, reference: str = "", created_by=None
) -> Payment:
    """Record a payment against an invoice; partial payments are allowed, more
    than what is outstanding is refused. The invoice row is locked, so two
    payments recorded at once cannot together overpay it."""
    amount = _amount(amount)
    if method not in Payment.Method.values:
        raise BadRequest(f"method must be one of {', '.join(Payment.Method.values)}")
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if invoice.kind == Invoice.Kind.CREDIT_NOTE:
            raise BadRequest("Payments are recorded against invoices, not credit notes")
        if invoice.status == Invoice.Status.VOID:
            raise BadRequest(f"{invoice.number} is void; it takes no payments")
        outstanding = invoice.total - invoice.amount_paid
        if amount > outstanding:
            raise BadRequest(
                f"Overpayment refused: {invoice.number} has {format_rm(outstanding)} outstanding "
                f"(total {format_rm(invoice.total)}, paid {format_rm(invoice.amount_paid)}); "
                f"{format_rm(amount)} is more than that"
            )
        return _payment_add(
            invoice=invoice,
            amount=amount,
            paid_on=paid_on,
            method=method,
            reference=reference,
            created_by=created_by,
        )


# --- overdue and aging -------------------------------------------------------------


def invoices_mark_overdue(*, on: date | None = None) -> int:
    """Flag unpaid invoices past their due date (one conditional update)."""
    on = on or today()
    return Invoice.objects.filter(
        kind__in=[Invoice.Kind.TOPUP, Invoice.Kind.MONTHLY],
        status__in=[Invoice.Status.ISSUED, Invoice.Status.PARTLY_PAID],
        due_date__lt=on,
    ).update(status=Invoice.Status.OVERDUE)


def aging_report(*, on: date | None = None) -> list[dict]:
    """Outstanding amounts per client by the age of the invoice (days since its
    issue date): 0-30, 31-60, 61-90, 90+."""
    on = on or today()
    rows: dict = {}
    invoices = (
        Invoice.objects.filter(status__in=OPEN_STATUSES)
        .exclude(kind=Invoice.Kind.CREDIT_NOTE)
        .select_related("client")
        .order_by("client__code", "issue_date", "id")
    )
    for invoice in invoices:
        outstanding = invoice.total - invoice.amount_paid
        if outstanding <= 0:
            continue
        row = rows.setdefault(
            invoice.client_id,
            {
                "client": invoice.client.code,
                "name": invoice.client.name,
                "invoices": 0,
                **{name: Decimal("0.00") for name, _, _ in AGING_BUCKETS},
                "total": Decimal("0.00"),
            },
        )
        age = max(0, (on - invoice.issue_date).days)
        bucket = next(name for name, low, high in AGING_BUCKETS if age >= low and (high is None or age <= high))
        row[bucket] += outstanding
        row["total"] += outstanding
        row["invoices"] += 1
    return list(rows.values())
