"""Admin pieces for personal data protection: the access log (read-only for
everyone), retention policies, masking on the session page, click-to-show images
and the staff Redact view. kyc/admin.py wires them in with a few lines."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from truestack.csvexport import csv_response
from truestack.errors import SessionStillOpen

from .models import KycSession, PersonalDataAccess, RetentionPolicy
from .privacy import can_view_personal_data, personal_data_access_record
from .redaction import session_redaction_request

ACCESS_LOG_CSV_COLUMNS = ("id", "at", "username", "session_id", "what", "remote_addr", "detail")


@admin.register(PersonalDataAccess)
class PersonalDataAccessAdmin(admin.ModelAdmin):
    list_display = ("at", "username", "what", "session_uuid", "remote_addr", "detail")
    list_filter = ("what", ("at", admin.DateFieldListFilter))
    search_fields = ("=session_uuid", "username")
    date_hierarchy = "at"
    list_per_page = 100
    show_full_result_count = False
    fields = ("at", "user", "username", "session", "session_uuid", "what", "remote_addr", "detail")
    readonly_fields = fields
    change_list_template = "admin/kyc/personaldataaccess/change_list.html"

    # Append-only: nobody (superusers included) adds, changes or deletes rows here.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_search_results(self, request, queryset, search_term):
        # `=session_uuid` with a non-UUID term would raise: search usernames only then.
        try:
            uuid.UUID(search_term.strip())
        except ValueError:
            if search_term.strip():
                return queryset.filter(username__icontains=search_term.strip()), False
        return super().get_search_results(request, queryset, search_term)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        extra = [path("export/", self.admin_site.admin_view(self.export_csv), name="{}_{}_export".format(*info))]
        return extra + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "export_url": reverse("admin:kyc_personaldataaccess_export")}
        return super().changelist_view(request, extra_context)

    def export_csv(self, request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        queryset = self.get_changelist_instance(request).get_queryset(request).order_by("at", "id")
        rows = (
            [pk, at.isoformat(), username, session_uuid or "", what, remote_addr or "", detail]
            for pk, at, username, session_uuid, what, remote_addr, detail in queryset.values_list(
                "id", "at", "username", "session_uuid", "what", "remote_addr", "detail"
            ).iterator(chunk_size=1000)
        )
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        return csv_response(filename=f"personal-data-access-{stamp}.csv", header=ACCESS_LOG_CSV_COLUMNS, rows=rows)


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(admin.ModelAdmin):
    list_display = ("client", "images_days", "personal_data_days", "updated_at")
    search_fields = ("client__code", "client__name")
    list_select_related = ("client",)


# --- the session page: masking, images on click, Redact ------------------------------


# Shown in place of a field to staff without the personal-data permission.
class RedactForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        widget=forms.TextInput(attrs={"size": 80}),
        help_text="Why (e.g. the client's ticket or the data subject's request reference). No personal data.",
    )


class SessionPrivacyAdminMixin:
    """For KycSessionAdmin (its review page shows masked values to staff without
    `kyc.view_session_images` and loads images on click): an access-log row when
    staff with the permission open a session, and the staff Redact view."""

    @staticmethod
    def data_protection(obj: KycSession, request: HttpRequest) -> str:
        if obj.is_redacted:
            return f"Redacted {obj.redacted_at:%Y-%m-%d %H:%M} UTC."
        if obj.redaction_started:
            return "Redaction pending."
        if obj.is_open:
            return "Open sessions cannot be redacted."
        if not request.user.has_perm("kyc.redact_session"):
            return "Not redacted."
        url = reverse("admin:kyc_kycsession_redact", args=[obj.pk])
        return format_html('<a class="button" href="{}">Redact…</a> (asks for a reason; recorded)', url)

    @staticmethod
    def personal_data_page_viewed(request: HttpRequest, session: KycSession) -> None:
        """Staff allowed to see personal data opened a session page: one access-log row."""
        if can_view_personal_data(request.user) and not session.is_redacted:
            personal_data_access_record(
                user=request.user,
                what=PersonalDataAccess.What.ID_NUMBER,
                session=session,
                request=request,
                detail="session page",
            )

    def get_urls(self):
        wrap = self.admin_site.admin_view  # type: ignore[attr-defined]
        extra = [path("<uuid:session_id>/redact/", wrap(self.redact_view), name="kyc_kycsession_redact")]
        return extra + super().get_urls()  # type: ignore[misc]

    def redact_view(self, request: HttpRequest, session_id: Any) -> HttpResponse:
        session = get_object_or_404(KycSession, pk=session_id)
        if not request.user.has_perm("kyc.redact_session"):
            raise PermissionDenied
        form = RedactForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                session_redaction_request(
                    session=session,
                    user=request.user,
                    source="staff",
                    reason=form.cleaned_data["reason"],
                    request=request,
                )
            except SessionStillOpen as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, "Redaction started: images and personal data are being removed.")
            return HttpResponseRedirect(reverse("admin:kyc_kycsession_change", args=[session.pk]))
        context = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "opts": KycSession._meta,
            "session": session,
            "title": "Redact",
            "change_url": reverse("admin:kyc_kycsession_change", args=[session.pk]),
            "form": form,
        }
        return TemplateResponse(request, "admin/kyc/kycsession/redact.html", context)
