"""The portal's admin site: the stock admin with the dashboard as its index
and no "View site" link (TrueStack has no public site to view)."""

from django.contrib import admin
from django.template.response import TemplateResponse

from .dashboard import dashboard_context


class PortalAdminSite(admin.AdminSite):
    site_header = "TrueStack Admin"
    site_title = "TrueStack Admin"
    index_title = "Dashboard"
    site_url = None
    index_template = "admin/portal/dashboard.html"

    def index(self, request, extra_context=None) -> TemplateResponse:
        return super().index(request, extra_context={**dashboard_context(), **(extra_context or {})})
