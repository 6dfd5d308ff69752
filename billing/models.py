"""Credits. Balances change only through billing.services."""

from django.conf import settings
from django.db import models
from django.db.models import Q

DESCRIPTION_MAX_LENGTH = 255


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
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

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
