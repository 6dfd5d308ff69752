"""The dashboard (admin index) and the client page's figures, composed from
each app's aggregate selectors. The number of queries is fixed: it does not
grow with sessions, clients or deliveries."""

from datetime import datetime
from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from billing import selectors as billing
from kyc import selectors as kyc
from truestack.localtime import day_start, days_back, local_datetime, local_today, month_start, months_back, portal_tz
from webhooks import selectors as webhooks

from .charts import bar_chart

APPROVED, REJECTED, EXPIRED = "#2e7d32", "#c62828", "#9e9e9e"
ADDED, USED = "#1565c0", "#ef6c00"


def sessions_url(**params) -> str:
    return reverse("admin:kyc_kycsession_changelist") + ("?" + urlencode(params) if params else "")


def _range(start, end) -> dict:
    return {"created_at__range__gte": start.isoformat(), "created_at__range__lte": end.isoformat()}


def _period(counts: dict, prefix: str, start, end) -> dict:
    period = _range(start, end)
    completed = counts[f"{prefix}_completed"]
    approved = counts[f"{prefix}_approved"]
    return {
        "figures": [
            ("Created", counts[f"{prefix}_created"], sessions_url(**period)),
            ("Completed", completed, sessions_url(status__exact="completed", **period)),
            ("Approved", approved, sessions_url(result__exact="approved", **period)),
            ("Rejected", counts[f"{prefix}_rejected"], sessions_url(result__exact="rejected", **period)),
            ("Expired", counts[f"{prefix}_expired"], sessions_url(status__exact="expired", **period)),
            ("Open", counts[f"{prefix}_open"], sessions_url(status__in="pending,processing", **period)),
        ],
        "approved_pct": round(100 * approved / completed) if completed else None,
    }


def sessions_chart(*, today, client_id=None, days: int = 30):
    day_list = days_back(today, days)
    per_day = kyc.sessions_per_day(since=day_start(day_list[0]), tz=portal_tz(), client_id=client_id)

    def values(key):
        return [per_day.get(day, {}).get(key, 0) for day in day_list]

    return bar_chart(
        title=f"Sessions per day, last {days} days (by day created, MYT)",
        labels=[day.strftime("%d %b") for day in day_list],
        series=[
            ("approved", APPROVED, values("approved")),
            ("rejected", REJECTED, values("rejected")),
            ("expired", EXPIRED, values("expired")),
        ],
        stacked=True,
        label_every=7,
    )


def credits_months(*, today, client_id=None, months: int = 12) -> list[dict]:
    month_list = months_back(today, months)
    per_month = billing.credits_per_month(since=month_start(month_list[0]), tz=portal_tz(), client_id=client_id)
    return [{"month": m, **{"added": 0, "used": 0, "billed": 0, **per_month.get(m, {})}} for m in month_list]


def credits_chart(rows: list[dict], *, title: str):
    return bar_chart(
        title=title,
        labels=[row["month"].strftime("%b %y") for row in rows],
        series=[
            ("credits added", ADDED, [row["added"] for row in rows]),
            ("credits used", USED, [row["used"] for row in rows]),
        ],
        stacked=False,
    )


def dashboard_context(*, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    today = local_today(now)
    today_start, this_month = day_start(today), month_start(today)
    counts = kyc.sessions_dashboard_counts(today_start=today_start, month_start=this_month, now=now)
    health = kyc.provider_health(now=now)
    failing = webhooks.failing_endpoints(now=now)
    for row in failing:
        row["url_admin"] = (
            reverse("admin:webhooks_delivery_changelist")
            + "?"
            + urlencode({"event__client__id__exact": row["event__client_id"], "state__in": "retrying,failed"})
        )
        row["last_attempt"] = local_datetime(row["last_attempt_at"])
    low = billing.clients_low_on_credit(sessions=settings.PORTAL_LOW_CREDIT_SESSIONS)
    for row in low:
        row["url_admin"] = reverse("admin:clients_client_change", args=[row["client_id"]])
    failed_share = round(100 * health["failed"] / health["total"]) if health["total"] else None
    return {
        "today": _period(counts, "today", today, today),
        "month": _period(counts, "month", this_month.date(), today),
        "today_label": today.strftime("%a %d %b %Y"),
        "month_label": today.strftime("%B %Y"),
        "stuck": [
            (
                "Open with no provider news past the poll threshold",
                counts["stuck_quiet"],
                sessions_url(attention="quiet"),
            ),
            ("Open past their expiry time", counts["stuck_overdue"], sessions_url(attention="overdue")),
            ("Failed creates (last 24 h)", counts["stuck_failed_create"], sessions_url(attention="failed_create")),
        ],
        "failing_endpoints": failing,
        "deliveries_url": reverse("admin:webhooks_delivery_changelist") + "?state__in=retrying,failed",
        "low_credit": low,
        "low_credit_sessions": settings.PORTAL_LOW_CREDIT_SESSIONS,
        "provider": {
            "last_callback": local_datetime(health["last_callback_at"]) or "none yet",
            "checks": health["total"],
            "failed": health["failed"],
            "failed_share": failed_share,
            "callbacks_url": reverse("admin:kyc_providercallback_changelist"),
        },
        "sessions_chart": sessions_chart(today=today),
        "credits_chart": credits_chart(credits_months(today=today), title="Credits added and used per month (MYT)"),
        "endpoint_health": webhooks.endpoint_health_failing(now=now),
        "retention": kyc.retention_summary(now=now),
        "access_log_url": reverse("admin:kyc_personaldataaccess_changelist"),
    }
