from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class PortalConfig(AppConfig):
    default = True
    default_auto_field = "django.db.models.BigAutoField"
    name = "portal"
    verbose_name = "Operator portal"


class PortalAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with the portal's site as `admin.site`."""

    default = False
    default_site = "portal.sites.PortalAdminSite"
