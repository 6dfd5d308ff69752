"""Credits. Balances change only through billing.services."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

DESCRIPTION_MAX_LENGTH = 255


def _now():
    return timezone.now()


class CreditAccount(models.Model):
    """The cached balance of a client, locked (SELECT … FOR UPDATE) by every
    balance change. `balance` always equals the sum of the client's ledger
    entries; `held` is the sum of its open holds."""

    client = models.OneToOneField("clients.Client", on_delete=models.PROTECT, related_name="credit_account")
    balance = models.BigIntegerField(default=0)
    held = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.client.code}: {self.balance} credits"

    @property
    def available(self) -> int:
        return self.balance - self.held


class LedgerEntry(models.Model):
    class Kind(models.TextChoices):
        TOPUP = "topup", "Top-up"
        INCLUDED = "included", "Included (promotional)"
        USAGE = "usage", "Usage"
        REFUND = "refund", "Refund"
        ADJUSTMENT = "adjustment", "Adjustment"

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="ledger_entries")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    amount = models.BigIntegerField(help_text="Credits; positive adds to the balance, negative takes from it.")
    balance_after = models.BigIntegerField()
    session = models.ForeignKey(
        "kyc.KycSession", null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries"
    )
    tier_name = models.CharField(max_length=100, blank=True)
    month_ordinal = models.PositiveIntegerField(
        null=True, blank=True, help_text="For usage: the session's ordinal in its billing month."
    )
    description = models.CharField(max_length=DESCRIPTION_MAX_LENGTH, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Stamped when written, unless the writer gives the moment (a charge gives the one it
    # was priced at, which the session and its webhook also show).
    created_at = models.DateTimeField(default=_now, editable=False, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "ledger entries"
        constraints = [
            models.UniqueConstraint(fields=["session"], condition=Q(kind="usage"), name="one_usage_entry_per_session"),
        ]
        indexes = [models.Index(fields=["client", "kind", "created_at"])]

    def __str__(self):
        return f"{self.get_kind_display()} {self.amount:+d}"


class PricingTier(models.Model):
    """Credits per completed session for ordinals min_volume..max_volume in a month."""

    client = models.ForeignKey("clients.Client", on_delete=models.CASCADE, related_name="pricing_tiers")
    name = models.CharField(max_length=100)
    min_volume = models.PositiveIntegerField(help_text="First monthly ordinal this tier prices (1-based).")
    max_volume = models.PositiveIntegerField(
        null=True, blank=True, help_text="Last ordinal; empty means no upper bound."
    )
    credits_per_session = models.PositiveIntegerField()

    class Meta:
        ordering = ["client", "min_volume"]

    def __str__(self):
        upper = self.max_volume if self.max_volume is not None else "∞"
        return f"{self.name}: {self.min_volume}–{upper} @ {self.credits_per_session}"


class Hold(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CAPTURED = "captured", "Captured"
        RELEASED = "released", "Released"

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="holds")
    session = models.OneToOneField("kyc.KycSession", on_delete=models.PROTECT, related_name="hold")
    amount = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"Hold {self.amount} ({self.status})"


# --- billing documents: statements, invoices, payments (docs/billing.md) -----------


class BillingProfile(models.Model):
    """What a client's statements and invoices are addressed to. Post-paid means
    the client's existing overdraft flag; terms default to BILLING_PAYMENT_TERMS_DAYS."""

    client = models.OneToOneField(
        "clients.Client", on_delete=models.CASCADE, primary_key=True, related_name="billing_profile"
    )
    legal_name = models.CharField(max_length=200, blank=True, help_text="Empty uses the client's name.")
    address = models.TextField(blank=True)
    registration_number = models.CharField(max_length=64, blank=True, help_text="SSM registration number.")
    sst_number = models.CharField(max_length=64, blank=True, help_text="The client's own SST registration, if any.")
    billing_email = models.EmailField(blank=True)
    payment_terms_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Days from issue to due date; empty uses the default (14)."
    )

    def __str__(self):
        return f"Billing profile of {self.client_id}"


class Statement(models.Model):
    """A client's month, frozen when issued. It covers the ledger entries with
    id <= cut_entry_id created before period_end, less those on earlier
    statements: a late entry for a closed month lands on the next statement."""

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="statements")
    month = models.DateField(help_text="First day of the calendar month (Asia/Kuala_Lumpur).")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    cut_entry_id = models.BigIntegerField(help_text="Highest ledger entry id visible when the statement was issued.")
    opening_balance = models.BigIntegerField()
    topup_credits = models.BigIntegerField(default=0)
    included_credits = models.BigIntegerField(default=0)
    refund_credits = models.BigIntegerField(default=0)
    adjustment_credits = models.BigIntegerField(default=0)
    usage_sessions = models.PositiveIntegerField(default=0)
    usage_credits = models.BigIntegerField(default=0, help_text="Credits charged for sessions (positive).")
    closing_balance = models.BigIntegerField()
    entry_count = models.PositiveIntegerField(default=0)
    credit_lines = models.JSONField(default=list, help_text="Every top-up, included, refund and adjustment entry.")
    usage_by_tier = models.JSONField(default=list)
    pdf_path = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-month", "client"]
        constraints = [models.UniqueConstraint(fields=["client", "month"], name="one_statement_per_client_month")]

    def __str__(self):
        return f"Statement {self.month:%Y-%m}"


class InvoiceCounter(models.Model):
    """The last number issued per series and year; its row is locked while an
    invoice is created, so numbers are sequential and gap-free."""

    series = models.CharField(max_length=8)
    year = models.PositiveIntegerField()
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["series", "year"], name="one_counter_per_series_year")]

    def __str__(self):
        return f"{self.series}-{self.year}: {self.last_number}"


class Invoice(models.Model):
    """A tax invoice or credit note. Never edited once issued: its status and
    amount_paid move with payments; voiding issues a credit note."""

    class Kind(models.TextChoices):
        TOPUP = "topup", "Top-up tax invoice"
        MONTHLY = "monthly", "Monthly invoice"
        CREDIT_NOTE = "credit_note", "Credit note"

    class Status(models.TextChoices):
        ISSUED = "issued", "Issued"
        PARTLY_PAID = "partly_paid", "Partly paid"
        PAID = "paid", "Paid"
        OVERDUE = "overdue", "Overdue"
        VOID = "void", "Void"

    number = models.CharField(max_length=32, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ISSUED, db_index=True)
    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="invoices")
    issue_date = models.DateField()
    due_date = models.DateField()
    period_month = models.DateField(null=True, blank=True, help_text="Monthly invoices: the month billed.")
    ledger_entry = models.OneToOneField(
        LedgerEntry,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="invoice",
        help_text="The top-up this invoice is for, or the credit a monthly invoice settled.",
    )
    credits = models.BigIntegerField(help_text="Credits behind the service amount.")
    lines = models.JSONField(default=list)
    subtotal = models.DecimalField(max_digits=14, decimal_places=2)
    sst_rate = models.DecimalField(max_digits=5, decimal_places=2)
    sst_amount = models.DecimalField(max_digits=14, decimal_places=2)
    total = models.DecimalField(max_digits=14, decimal_places=2)
    amount_paid = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    bill_to = models.JSONField(default=dict, help_text="The client's billing details as printed.")
    original = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="credit_notes",
        help_text="Credit notes: the invoice they void.",
    )
    note = models.CharField(max_length=255, blank=True)
    pdf_path = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "period_month"], condition=Q(kind="monthly"), name="one_monthly_invoice_per_month"
            ),
            models.UniqueConstraint(
                fields=["original"], condition=Q(kind="credit_note"), name="one_credit_note_per_invoice"
            ),
        ]
        indexes = [models.Index(fields=["client", "-created_at"])]

    def __str__(self):
        return self.number

    @property
    def outstanding(self):
        return self.total - self.amount_paid


class Payment(models.Model):
    class Method(models.TextChoices):
        BANK_TRANSFER = "bank_transfer", "Bank transfer"
        FPX = "fpx", "FPX"
        CARD = "card", "Card"
        CHEQUE = "cheque", "Cheque"
        CASH = "cash", "Cash"
        OTHER = "other", "Other"

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    paid_on = models.DateField()
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    method = models.CharField(max_length=16, choices=Method.choices)
    reference = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["paid_on", "id"]

    def __str__(self):
        return f"RM {self.amount} on {self.paid_on}"
