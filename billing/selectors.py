"""Reads of balances and the ledger (writes live in billing.services)."""

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from .models import CreditAccount, LedgerEntry
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


# --- billing documents ------------------------------------------------------------


def account_summary(*, client) -> dict:
    """Balance, held and this month's usage in one query (zeros before any credit)."""

    mtd = month_to_date_subqueries("client_id")
    row = (
        CreditAccount.objects.filter(client_id=getattr(client, "pk", client))
        # Named here (not **mtd) so the type checker knows the annotations values_list reads.
        .annotate(billing_mtd_sessions=mtd["billing_mtd_sessions"], billing_mtd_credits=mtd["billing_mtd_credits"])
        .values_list("balance", "held", "billing_mtd_sessions", "billing_mtd_credits")
        .first()
    )
    balance, held, sessions, credits = row or (0, 0, 0, 0)
    return {"balance": balance, "held": held, "mtd_sessions": sessions, "mtd_credits": credits}


def statements_for_client(*, client) -> QuerySet:
    from .models import Statement

    return Statement.objects.filter(client_id=getattr(client, "pk", client))


def invoices_for_client(*, client) -> QuerySet:
    from .models import Invoice

    return (
        Invoice.objects.filter(client_id=getattr(client, "pk", client))
        .select_related("original")
        .prefetch_related("payments")
    )
