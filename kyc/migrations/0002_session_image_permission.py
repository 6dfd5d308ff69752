from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("kyc", "0001_initial")]

    operations = [
        migrations.AlterModelOptions(
            name="kycsession",
            options={
                "ordering": ["-created_at"],
                "permissions": [("view_session_images", "Can view identity document images")],
                "verbose_name": "KYC session",
            },
        ),
    ]
