"""Monthly statements: generated from the ledger, frozen when issued, and
reconciled back to it by `statements_check`.

Which entries a statement covers: A(k) = the client's entries with
id <= cut_entry_id(k) and created_at < period_end(k). Statement k shows
A(k) minus A(k-1). Both bounds only grow from one statement to the next, so
every entry is on exactly one statement, and an entry that reaches a closed
month late (id above that month's cut) appears on the next statement. The cut is
read under the client's account lock, which every ledger write holds, so no
entry below the cut can still be uncommitted."""

import logging
import re
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Min, Q, QuerySet, Sum
from django.utils import timezone

from truestack.errors import BadRequest

from . import services
from .models import CreditAccount, LedgerEntry, Statement

logger = logging.getLogger(__name__)

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_CREDIT_KINDS = {
    LedgerEntry.Kind.TOPUP: "topup_credits",
    LedgerEntry.Kind.INCLUDED: "included_credits",
    LedgerEntry.Kind.REFUND: "refund_credits",
    LedgerEntry.Kind.ADJUSTMENT: "adjustment_credits",
}
FIGURES = (
    "opening_balance",
    "topup_credits",
    "included_credits",
    "refund_credits",
    "adjustment_credits",
    "usage_sessions",
    "usage_credits",
    "closing_balance",
    "entry_count",
    "credit_lines",
    "usage_by_tier",
)


# --- months ---------------------------------------------------------------------


def _tz() -> ZoneInfo:
    return ZoneInfo(settings.BILLING_TIME_ZONE)


def month_parse(value: str) -> date:
    """`YYYY-MM` -> the first day of that month."""
    match = _MONTH.match(value or "")
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 2000:
        raise BadRequest("month must be YYYY-MM, e.g. 2026-01")
    return date(int(match.group(1)), int(match.group(2)), 1)


def month_of(moment: datetime) -> date:
    local = moment.astimezone(_tz())
    return date(local.year, local.month, 1)


def month_next(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def month_previous(month: date) -> date:
    return date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """[start, end) of a calendar month in Kuala Lumpur."""
    return services.billing_month_bounds(at=datetime(month.year, month.month, 15, tzinfo=_tz()))


def current_month() -> date:
    return month_of(timezone.now())


# --- figures ----------------------------------------------------------------------


def _covered(client_id, *, cut_entry_id: int, period_end: datetime) -> Q:
    return Q(client_id=client_id, id__lte=cut_entry_id, created_at__lt=period_end)


def _members(client_id, *, cut_entry_id: int, period_end: datetime, previous: Statement | None) -> QuerySet:
    entries = LedgerEntry.objects.filter(_covered(client_id, cut_entry_id=cut_entry_id, period_end=period_end))
    if previous is not None:
        entries = entries.exclude(
            _covered(client_id, cut_entry_id=previous.cut_entry_id, period_end=previous.period_end)
        )
    return entries.order_by()


def _local_date(moment: datetime) -> str:
    return moment.astimezone(_tz()).date().isoformat()


def statement_figures(client_id, *, cut_entry_id: int, period_end: datetime, previous: Statement | None) -> dict:
    """Every figure of a statement, computed from the ledger (three queries)."""
    members = _members(client_id, cut_entry_id=cut_entry_id, period_end=period_end, previous=previous)
    opening = previous.closing_balance if previous is not None else 0
    figures: dict[str, Any] = {"opening_balance": opening, "usage_sessions": 0, "usage_credits": 0, "entry_count": 0}
    figures.update(dict.fromkeys(_CREDIT_KINDS.values(), 0))
    net = 0
    for row in members.values("kind").annotate(total=Sum("amount"), n=Count("id")):
        figures["entry_count"] += row["n"]
        net += row["total"]
        if row["kind"] == LedgerEntry.Kind.USAGE:
            figures["usage_sessions"] = row["n"]
            figures["usage_credits"] = -row["total"]
        else:
            figures[_CREDIT_KINDS[row["kind"]]] = row["total"]
    figures["closing_balance"] = opening + net
    figures["credit_lines"] = [
        {
            "entry_id": entry_id,
            "date": _local_date(created_at),
            "kind": kind,
            "credits": amount,
            "description": description,
        }
        for entry_id, created_at, kind, amount, description in members.exclude(kind=LedgerEntry.Kind.USAGE)
        .order_by("created_at", "id")
        .values_list("id", "created_at", "kind", "amount", "description")
    ]
    tiers = (
        members.filter(kind=LedgerEntry.Kind.USAGE)
        .values("tier_name")
        .annotate(
            sessions=Count("id"),
            total=Sum("amount"),
            approved=Count("id", filter=Q(session__result="approved")),
            rejected=Count("id", filter=Q(session__result="rejected")),
            first=Min("month_ordinal"),
        )
        .order_by("first", "tier_name")
    )
    figures["usage_by_tier"] = [
        {
            "tier": row["tier_name"],
            "sessions": row["sessions"],
            "credits": -row["total"],
            "approved": row["approved"],
            "rejected": row["rejected"],
        }
        for row in tiers
    ]
    return figures


# --- generation -------------------------------------------------------------------


def _first_month(client_id) -> date | None:
    first = LedgerEntry.objects.filter(client_id=client_id).aggregate(first=Min("created_at"))["first"]
    return month_of(first) if first else None


def _generate_one(*, client_id, month: date, created_by=None) -> tuple[Statement, bool]:
    start, end = month_bounds(month)
    try:
        with transaction.atomic():
            services._lock_account(client_id)  # no ledger write for this client until we commit
            existing = Statement.objects.filter(client_id=client_id, month=month).first()
            if existing is not None:
                return existing, False
            previous = Statement.objects.filter(client_id=client_id, month__lt=month).order_by("-month").first()
            cut = LedgerEntry.objects.filter(client_id=client_id).aggregate(top=Max("id"))["top"] or 0
            if previous is not None:
                cut = max(cut, previous.cut_entry_id)
            figures = statement_figures(client_id, cut_entry_id=cut, period_end=end, previous=previous)
            statement = Statement.objects.create(
                client_id=client_id,
                month=month,
                period_start=start,
                period_end=end,
                cut_entry_id=cut,
                created_by=created_by,
                **figures,
            )
    except IntegrityError:
        # A concurrent generator won between our check and our insert.
        return Statement.objects.get(client_id=client_id, month=month), False
    logger.info("billing: statement %s issued for client %s", month.strftime("%Y-%m"), client_id)
    return statement, True


def statement_generate(*, client, month: date, created_by=None) -> tuple[Statement | None, list[Statement]]:
    """Issue the client's statement for `month` (a past month), and any missing
    earlier ones since its first ledger entry, in order. Idempotent: an issued
    statement is returned as is. Returns (the month's statement or None when the
    client had no ledger yet, the statements newly issued)."""
    if month >= current_month():
        raise BadRequest(f"{month:%Y-%m} is not over yet: statements are issued for past months only")
    client_id = getattr(client, "pk", client)
    first = _first_month(client_id)
    if first is None or first > month:
        return None, []
    latest = Statement.objects.filter(client_id=client_id).order_by("-month").values_list("month", flat=True).first()
    # Statements are issued in month order (each starts from the previous one's closing balance).
    if latest is None:
        cursor = first
    elif latest >= month:
        cursor = month
    else:
        cursor = month_next(latest)
    issued: list[Statement] = []
    statement = None
    while cursor <= month:
        statement, created = _generate_one(client_id=client_id, month=cursor, created_by=created_by)
        if created:
            issued.append(statement)
        cursor = month_next(cursor)
    return statement, issued


def statements_generate_for_month(*, month: date, client=None, created_by=None) -> list[Statement]:
    """Every client's (or one client's) statement for `month`; returns those newly issued."""
    if client is not None:
        client_ids = [getattr(client, "pk", client)]
    else:
        client_ids = list(CreditAccount.objects.order_by("client__code").values_list("client_id", flat=True))
    issued: list[Statement] = []
    for client_id in client_ids:
        issued += statement_generate(client=client_id, month=month, created_by=created_by)[1]
    return issued


# --- reconciliation ---------------------------------------------------------------


def statements_check() -> list[str]:
    """Every disagreement between issued statements and the ledger; [] means OK."""
    problems: list[str] = []
    statements = Statement.objects.select_related("client").order_by("client__code", "client_id", "month")
    previous: Statement | None = None
    for statement in statements:
        if previous is not None and previous.client_id != statement.client_id:
            previous = None
        label = f"{statement.client.code} {statement.month:%Y-%m}"
        if previous is not None and statement.month != month_next(previous.month):
            problems.append(f"{label}: no statement for {month_next(previous.month):%Y-%m}")
        if previous is not None and statement.cut_entry_id < previous.cut_entry_id:
            problems.append(f"{label}: cut {statement.cut_entry_id} is below the previous statement's")
        if statement.period_end != month_bounds(statement.month)[1]:
            problems.append(f"{label}: period_end {statement.period_end} is not the end of its month")
        expected = statement_figures(
            statement.client_id,
            cut_entry_id=statement.cut_entry_id,
            period_end=statement.period_end,
            previous=previous,
        )
        for field in FIGURES:
            if getattr(statement, field) != expected[field]:
                problems.append(f"{label}: {field} {getattr(statement, field)!r} != ledger {expected[field]!r}")
        net = (
            statement.topup_credits
            + statement.included_credits
            + statement.refund_credits
            + statement.adjustment_credits
            - statement.usage_credits
        )
        if statement.opening_balance + net != statement.closing_balance:
            problems.append(f"{label}: opening + movements != closing")
        ledger_total = (
            LedgerEntry.objects.filter(
                _covered(statement.client_id, cut_entry_id=statement.cut_entry_id, period_end=statement.period_end)
            ).aggregate(total=Sum("amount"))["total"]
            or 0
        )
        if ledger_total != statement.closing_balance:
            problems.append(f"{label}: closing {statement.closing_balance} != ledger total {ledger_total}")
        previous = statement
    return problems
