from django.contrib import admin

from .models import SandboxTransaction


@admin.register(SandboxTransaction)
class SandboxTransactionAdmin(admin.ModelAdmin):
    list_display = (
        "provider_ref_id",
        "onboarding_id",
        "status",
        "result",
        "callback_count",
        "callback_last_status",
        "created_at",
    )
    list_filter = ("status", "result")
    search_fields = ("provider_ref_id", "onboarding_id", "ref_id")
    exclude = ("front_image", "back_image")
    readonly_fields = [f.name for f in SandboxTransaction._meta.fields if f.name not in ("front_image", "back_image")]
