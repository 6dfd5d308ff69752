"""The operator portal's pages that need more than one app. The Client page is
the clients app's `ClientAdmin` with billing's balance columns, pricing tiers,
ledger and "Add credits" page wired in through its hook points."""

from django.contrib import admin

from billing.admin import (
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


@admin.register(Client)
class ClientWithBillingAdmin(ClientAdmin):
    list_display = ("code", "name", "status", "overdraft", balance_display, mtd_usage_display, "created_at")
    inlines = (ApiKeyInline, PricingTierInline, LedgerEntryInline)

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
