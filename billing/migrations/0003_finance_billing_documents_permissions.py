"""The finance role runs statements, invoices, payments and billing profiles;
ops sees none of them."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

MODELS = ["billingprofile", "statement", "invoice", "payment"]


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    finance, _ = Group.objects.get_or_create(name="finance")
    finance.permissions.add(
        *Permission.objects.filter(content_type__app_label="billing", content_type__model__in=MODELS)
    )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    finance = Group.objects.filter(name="finance").first()
    if finance is not None:
        finance.permissions.remove(
            *Permission.objects.filter(content_type__app_label="billing", content_type__model__in=MODELS)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0002_statements_invoices_payments"),
        ("clients", "0002_staff_roles"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
