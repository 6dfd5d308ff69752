"""The portal's admin site: the stock admin with the dashboard as its index
and no "View site" link (TrueStack has no public site to view)."""

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse

from .dashboard import dashboard_context


class PortalAdminSite(admin.AdminSite):
    site_header = "TrueStack Admin"
    site_title = "TrueStack Admin"
    index_title = "Dashboard"
    site_url = None
    index_template = "admin/portal/dashboard.html"
    # A bar of the pages operators use daily replaces the side panel, which
    # left a session list 630 px wide at 1280 px.
    enable_nav_sidebar = False
    NAV = [
        ("kyc", "KycSession", "Sessions"),
        ("clients", "Client", "Clients"),
        ("webhooks", "Delivery", "Webhook deliveries"),
        ("kyc", "ProviderCallback", "Provider callbacks"),
        ("billing", "CreditAccount", "Credit accounts"),
        ("billing", "LedgerEntry", "Ledger"),
        ("kyc", "PersonalDataAccess", "Access log"),
    ]

    def each_context(self, request: HttpRequest) -> dict:
        context = super().each_context(request)
        urls = {
            (app["app_label"], model["object_name"]): model.get("admin_url")
            for app in context["available_apps"]
            for model in app["models"]
        }
        context["portal_nav"] = [(label, urls[(app, name)]) for app, name, label in self.NAV if urls.get((app, name))]
        return context

    def index(self, request, extra_context=None) -> TemplateResponse:
        return super().index(request, extra_context={**dashboard_context(), **(extra_context or {})})
