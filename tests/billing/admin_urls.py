"""A Client admin wired the way billing.admin's docstring tells the Client
admin to wire it, on its own site (namespace "admin") so the test does not
depend on how clients/admin.py evolves."""

from django.contrib import admin
from django.urls import path

from billing.admin import (
    LedgerEntryInline,
    PricingTierInline,
    annotate_clients,
    balance_display,
    mtd_usage_display,
    topup_urls,
)
from clients.models import Client

site = admin.AdminSite(name="admin")


class ClientAdmin(admin.ModelAdmin):
    list_display = ["code", "name", balance_display, mtd_usage_display]
    fields = ["code", "name", "allow_overdraft"]
    inlines = [PricingTierInline, LedgerEntryInline]

    def get_queryset(self, request):
        return annotate_clients(super().get_queryset(request))

    def get_urls(self):
        return topup_urls(self.admin_site) + super().get_urls()


site.register(Client, ClientAdmin)

urlpatterns = [path("admin/", site.urls)]
