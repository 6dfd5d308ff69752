"""Reads of balances and the ledger (writes live in billing.services)."""

from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db.models import Count, F, IntegerField, Max, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncMonth

from .models import CreditAccount, Hold, Invoice, LedgerEntry, PricingTier, Statement
from .services import billing_month_bounds


def balance_get(*, client) -> int:
    """The client's balance in credits (0 before its first entry)."""
    balance = CreditAccount.objects.filter(client_id=getattr(client, "pk", client)).values_list("balance", flat=True)
    return next(iter(balance), 0)


def available_get(*, client) -> int:
    """Balance minus what open sessions hold."""
    row = CreditAccount.objects.filter(client_id=getattr(client, "pk", client)).values_list("balance", "held").first()
    return row[0] - row[1] if row else 0


def _usage_this_month():
    start, end = billing_month_bounds()
    return LedgerEntry.objects.filter(kind=LedgerEntry.Kind.USAGE, created_at__gte=start, created_at__lt=end)


def month_to_date_usage(*, client) -> tuple[int, int]:
    """(billed sessions, credits spent) in the current month, Asia/Kuala_Lumpur."""
    totals = (
        _usage_this_month()
        .filter(client_id=getattr(client, "pk", client))
        .aggregate(sessions=Count("id"), amount=Sum("amount"))
    )
    return totals["sessions"], -(totals["amount"] or 0)


def ledger_for_client(*, client) -> QuerySet[LedgerEntry]:
    """The client's entries, newest first; balance_after is the running balance."""
    return (
        LedgerEntry.objects.filter(client_id=getattr(client, "pk", client))
        .select_related("session", "created_by")
        .order_by("-id")
    )


def month_to_date_subqueries(client_ref: str = "pk") -> dict:
    """Annotations (billing_mtd_sessions, billing_mtd_credits) for a queryset
    whose `client_ref` column is a client id; evaluated in the same query."""
    usage = _usage_this_month().filter(client_id=OuterRef(client_ref)).order_by().values("client_id")
    return {
        "billing_mtd_sessions": Coalesce(
            Subquery(usage.annotate(n=Count("id")).values("n"), output_field=IntegerField()), Value(0)
        ),
        "billing_mtd_credits": Coalesce(
            Subquery(usage.annotate(total=-Sum("amount")).values("total"), output_field=IntegerField()), Value(0)
        ),
    }


# --- operator portal: aggregate reads -------------------------------------------------


def clients_low_on_credit(*, sessions: int, limit: int = 20) -> list[dict]:
    """Active clients without overdraft whose available credits cover fewer than
    `sessions` sessions at their dearest tier (or the default price): one query."""
    dearest = (
        PricingTier.objects.filter(client_id=OuterRef("client_id"))
        .order_by()
        .values("client_id")
        .annotate(top=Max("credits_per_session"))
        .values("top")
    )
    rows = (
        CreditAccount.objects.filter(client__status="active", client__allow_overdraft=False)
        .annotate(
            # Not `available`: that name is the model's read-only property.
            left=F("balance") - F("held"),
            price=Coalesce(
                Subquery(dearest, output_field=IntegerField()), Value(settings.BILLING_DEFAULT_CREDITS_PER_SESSION)
            ),
        )
        .filter(left__lt=F("price") * sessions)
        .order_by("left")
        .values("client_id", "client__code", "client__name", "balance", "held", "price", available=F("left"))[:limit]
    )
    return [{**row, "sessions_left": max(row["available"], 0) // max(row["price"], 1)} for row in rows]


ADDED_KINDS = (LedgerEntry.Kind.TOPUP, LedgerEntry.Kind.INCLUDED)


def credits_per_month(*, since: datetime, tz, client_id=None) -> dict[date, dict[str, int]]:
    """{first day of the local month: {added, used, billed}}: top-ups and included
    credits added, credits used by sessions (net of refunds), sessions billed."""
    entries = LedgerEntry.objects.filter(created_at__gte=since)
    if client_id is not None:
        entries = entries.filter(client_id=client_id)
    # Any rows: the stubs type them as TypedDicts, whose keys cannot be popped.
    rows: QuerySet[Any] = (
        entries.annotate(month=TruncMonth("created_at", tzinfo=tz))
        .values("month")
        .order_by("month")
        .annotate(
            added=Coalesce(Sum("amount", filter=Q(kind__in=ADDED_KINDS)), Value(0)),
            used=Coalesce(
                -Sum("amount", filter=Q(kind__in=(LedgerEntry.Kind.USAGE, LedgerEntry.Kind.REFUND))), Value(0)
            ),
            billed=Count("id", filter=Q(kind=LedgerEntry.Kind.USAGE)),
        )
    )
    return {_as_date(row.pop("month")): row for row in rows}


def _as_date(value) -> date:
    return value.date() if isinstance(value, datetime) else value


def account_summary(*, client) -> dict[str, int]:
    """Balance, held, available and month-to-date usage of a client: one query."""
    mtd = month_to_date_subqueries("client_id")
    row = (
        CreditAccount.objects.filter(client_id=getattr(client, "pk", client))
        # Named here so that the names passed to values() are known to be annotations.
        .annotate(billing_mtd_sessions=mtd["billing_mtd_sessions"], billing_mtd_credits=mtd["billing_mtd_credits"])
        .values("balance", "held", "billing_mtd_sessions", "billing_mtd_credits")
        .first()
    )
    if row is None:
        return {"balance": 0, "held": 0, "available": 0, "mtd_sessions": 0, "mtd_credits": 0}
    return {
        "balance": row["balance"],
        "held": row["held"],
        "available": row["balance"] - row["held"],
        "mtd_sessions": row["billing_mtd_sessions"],
        "mtd_credits": row["billing_mtd_credits"],
    }


def session_billing(*, session_id) -> tuple[Hold | None, list[LedgerEntry]]:
    """A session's hold and its ledger entries (usage, refund): two queries."""
    hold = Hold.objects.filter(session_id=session_id).first()
    entries = list(LedgerEntry.objects.filter(session_id=session_id).order_by("id"))
    return hold, entries


# --- billing documents ------------------------------------------------------------


def statements_for_client(*, client) -> QuerySet:
    return Statement.objects.filter(client_id=getattr(client, "pk", client))


def invoices_for_client(*, client) -> QuerySet:
    return (
        Invoice.objects.filter(client_id=getattr(client, "pk", client))
        .select_related("original")
        .prefetch_related("payments")
    )
