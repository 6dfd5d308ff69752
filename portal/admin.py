"""The operator portal's pages that need more than one app. The Client page is
the clients app's `ClientAdmin` with billing's balance columns, pricing tiers,
ledger and "Add credits" page wired in through its hook points, plus a summary
(balance, held, available, usage this month and over 12 months, charts) and the
client's recent sessions."""

from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

from billing import selectors as billing_selectors
from billing.admin import (
    BillingProfileInline,
    LedgerEntryInline,
    PricingTierInline,
    annotate_clients,
    balance_display,
    mtd_usage_display,
    topup_object_tool,
    topup_urls,
)
from clients.admin import ApiKeyInline, ClientAdmin
from clients.models import Client
from kyc import selectors as kyc_selectors
from truestack.localtime import local_datetime, local_today, month_start, months_back, portal_tz
from webhooks import selectors as webhook_selectors

from .dashboard import credits_chart, credits_months, sessions_chart


def client_summary(*, client: Client) -> dict:
    """The figures at the top of a client's page: a fixed number of queries."""
    today = local_today(timezone.now())
    months = credits_months(today=today, client_id=client.pk)
    sessions = kyc_selectors.sessions_per_month(
        since=month_start(months_back(today, 12)[0]), tz=portal_tz(), client_id=client.pk
    )
    for row in months:
        row.update({"approved": 0, "rejected": 0, "created": 0, **sessions.get(row["month"], {})})
    recent = [
        {
            "session": session,
            "admin_url": reverse("admin:kyc_kycsession_change", args=[session.pk]),
            "created_local": local_datetime(session.created_at),
        }
        for session in kyc_selectors.sessions_recent_for_client(client_id=client.pk)
    ]
    return {
        "account": billing_selectors.account_summary(client=client),
        "months": months[::-1],
        "credits_chart": credits_chart(months, title="Credits added and used per month (MYT)"),
        "sessions_chart": sessions_chart(today=today, client_id=client.pk),
        "recent_sessions": recent,
        "sessions_url": reverse("admin:kyc_kycsession_changelist") + f"?client__id__exact={client.pk}",
        "ledger_url": reverse("admin:billing_ledgerentry_changelist") + f"?client__id__exact={client.pk}",
        "ledger_csv_url": reverse("admin:billing_ledgerentry_export_csv") + f"?client__id__exact={client.pk}",
        "deliveries_url": reverse("admin:webhooks_delivery_changelist") + f"?event__client__id__exact={client.pk}",
        "endpoint_health": webhook_selectors.endpoint_health_for_client(client_id=client.pk),
    }


@admin.register(Client)
class ClientWithBillingAdmin(ClientAdmin):
    list_display = ("code", "name", "status", "overdraft", balance_display, mtd_usage_display, "created_at")
    inlines = (ApiKeyInline, PricingTierInline, BillingProfileInline, LedgerEntryInline)
    change_form_template = "admin/portal/client_change_form.html"

    def get_queryset(self, request):
        # Balance and month-to-date usage columns come from annotations (no N+1).
        return annotate_clients(super().get_queryset(request))

    def get_object_tools(self, request, obj) -> list[tuple[str, str]]:
        tools = super().get_object_tools(request, obj)
        topup = topup_object_tool(request, obj)
        if topup:
            tools.append(topup)
        return tools

    def get_extra_urls(self) -> list:
        # Before the defaults: "<path:object_id>/" would swallow them.
        return [*super().get_extra_urls(), *topup_urls(self.admin_site)]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and not add:
            summary = client_summary(client=obj)
            summary["can_see_ledger"] = request.user.has_perm("billing.view_ledgerentry")
            summary["can_see_sessions"] = request.user.has_perm("kyc.view_kycsession")
            summary["can_see_deliveries"] = request.user.has_perm("webhooks.view_delivery")
            context["summary"] = summary
        return super().render_change_form(request, context, add, change, form_url, obj)
