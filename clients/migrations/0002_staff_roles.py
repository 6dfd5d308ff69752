"""Staff roles as groups: `ops` runs clients, keys, sessions and deliveries;
`finance` runs credits and pricing. Superusers can do everything."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLES = {
    "ops": {
        "clients": ["client", "apikey"],
        "kyc": ["kycsession", "providercallback"],  # includes view_session_images
        "webhooks": ["event", "delivery", "attempt"],
        "billing": [],
    },
    "finance": {
        "clients": [],
        "billing": ["creditaccount", "ledgerentry", "pricingtier", "hold"],
    },
}
VIEW_ONLY = {
    "ops": {"billing": ["creditaccount", "ledgerentry"]},
    "finance": {"clients": ["client"], "kyc": ["kycsession"]},
}


def create_roles(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, grants in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        perms = []
        for app_label, models in grants.items():
            perms += Permission.objects.filter(content_type__app_label=app_label, content_type__model__in=models)
        for app_label, models in VIEW_ONLY.get(role, {}).items():
            perms += Permission.objects.filter(
                content_type__app_label=app_label, content_type__model__in=models, codename__startswith="view_"
            ).exclude(codename="view_session_images")
        group.permissions.add(*perms)


def drop_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=list(ROLES)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("clients", "0001_initial"),
        ("billing", "0001_initial"),
        ("kyc", "0002_session_image_permission"),
        ("webhooks", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_roles, drop_roles)]
