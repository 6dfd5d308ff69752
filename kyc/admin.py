from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from webhooks.admin import EventInline

from .admin_privacy import SessionPrivacyAdminMixin  # access log, retention, masking, images, Redact
from .documents import expiring_url
from .models import KycSession, ProviderCallback
from .services import session_refresh


class ProviderCallbackInline(admin.TabularInline):
    model = ProviderCallback
    fields = ("received_at", "provider_status", "state", "error", "attempts", "processed_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(KycSession)
class KycSessionAdmin(SessionPrivacyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "client", "status", "result", "is_test", "document_type", "masked_document", "created_at")
    list_filter = ("status", "result", "is_test", "client", ("created_at", admin.DateFieldListFilter))
    search_fields = ("=id", "ref_id", "provider_ref_id", "document_number")
    list_select_related = ("client",)
    date_hierarchy = "created_at"
    actions = ["refresh_from_provider"]
    inlines = [ProviderCallbackInline, EventInline]
    readonly_fields = [f.name for f in KycSession._meta.fields] + ["images"]
    fieldsets = (
        (
            "Session",
            {
                "fields": (
                    "id",
                    "client",
                    "api_key",
                    "is_test",
                    "status",
                    "result",
                    "reject_message",
                    "created_at",
                    "updated_at",
                    "expires_at",
                    "completed_at",
                )
            },
        ),
        (
            "Request",
            {
                "fields": (
                    "document_name",
                    "document_number",
                    "document_type",
                    "platform",
                    "webhook_url",
                    "redirect_url",
                    "success_url",
                    "fail_url",
                    "metadata",
                )
            },
        ),
        (
            "Provider",
            {
                "fields": (
                    "ref_id",
                    "provider_ref_id",
                    "onboarding_id",
                    "onboarding_url",
                    "provider_status",
                    "provider_result",
                    "provider_error",
                    "provider_expires_at",
                    "last_callback_at",
                    "last_provider_check_at",
                )
            },
        ),
        (
            "OCR",
            {
                "fields": (
                    "ocr_full_name",
                    "ocr_id_number",
                    "ocr_id_number_back",
                    "ocr_address",
                    "ocr_gender",
                    "ocr_nationality",
                    "date_of_birth",
                )
            },
        ),
        (
            "Verification",
            {
                "fields": (
                    "document_valid",
                    "name_match",
                    "id_match",
                    "front_back_match",
                    "landmark_valid",
                    "face_match",
                    "face_match_score",
                    "liveness_passed",
                    "raw_result",
                )
            },
        ),
        ("Images", {"fields": ("images",)}),
    )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Document number")
    def masked_document(self, obj):
        return f"***{obj.document_number[-4:]}"

    @admin.display(description="Images")
    def images(self, obj):
        request = getattr(self, "_request", None)
        if request is None or not request.user.has_perm("kyc.view_session_images"):
            return "Hidden: requires the “Can view identity document images” permission."
        paths = [(kind, getattr(obj, kind)) for kind in KycSession.DOCUMENT_KINDS if getattr(obj, kind)]
        if not paths:
            return "No images stored."
        return format_html_join(
            "",
            '<figure style="display:inline-block;margin:4px"><img src="{}" style="max-height:180px">'
            "<figcaption>{}</figcaption></figure>",
            ((expiring_url(path), kind) for kind, path in paths),
        )

    def get_readonly_fields(self, request, obj=None):
        self._request = request
        return super().get_readonly_fields(request, obj)

    @admin.action(description="Refresh from provider")
    def refresh_from_provider(self, request, queryset):
        refreshed = failed = final = 0
        for session in queryset:
            outcome = session_refresh(session=session)
            if outcome.error:
                failed += 1
            elif outcome.refreshed:
                refreshed += 1
            else:
                final += 1
        self.message_user(
            request,
            format_html("Refreshed {}, already final {}, provider unreachable {}.", refreshed, final, failed),
            messages.WARNING if failed else messages.SUCCESS,
        )


@admin.register(ProviderCallback)
class ProviderCallbackAdmin(admin.ModelAdmin):
    list_display = ("id", "received_at", "session", "provider_status", "state", "error", "attempts")
    list_filter = ("state", "provider_status")
    search_fields = ("provider_ref_id", "onboarding_id", "=session__id")
    readonly_fields = (
        "received_at",
        "remote_addr",
        "session",
        "provider_ref_id",
        "onboarding_id",
        "provider_status",
        "state",
        "error",
        "attempts",
        "processed_at",
        "body_sha256",
    )
    exclude = ("body",)

    def has_add_permission(self, request):
        return False
