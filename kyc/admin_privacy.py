"""Admin pieces for personal data protection: the access log (read-only for
everyone), retention policies, masking on the session page, click-to-show images
and the staff Redact view. kyc/admin.py wires them in with a few lines."""

from __future__ import annotations

import csv
import uuid
from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import path, reverse
from django.utils import timezone

from .models import PersonalDataAccess, RetentionPolicy

ACCESS_LOG_CSV_COLUMNS = ("id", "at", "username", "session_id", "what", "remote_addr", "detail")


class _Echo:
    def write(self, value: str) -> str:
        return value


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

    def get_search_results(self, request, queryset, search_term):  # type: ignore[no-untyped-def]
        # `=session_uuid` with a non-UUID term would raise: search usernames only then.
        try:
            uuid.UUID(search_term.strip())
        except ValueError:
            if search_term.strip():
                return queryset.filter(username__icontains=search_term.strip()), False
        return super().get_search_results(request, queryset, search_term)

    def get_urls(self):  # type: ignore[no-untyped-def]
        info = self.opts.app_label, self.opts.model_name
        extra = [path("export/", self.admin_site.admin_view(self.export_csv), name="{}_{}_export".format(*info))]
        return extra + super().get_urls()

    def changelist_view(self, request, extra_context=None):  # type: ignore[no-untyped-def]
        extra_context = {**(extra_context or {}), "export_url": reverse("admin:kyc_personaldataaccess_export")}
        return super().changelist_view(request, extra_context)

    def export_csv(self, request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        queryset = self.get_changelist_instance(request).get_queryset(request).order_by("at", "id")
        writer = csv.writer(_Echo())

        def rows():  # type: ignore[no-untyped-def]
            yield writer.writerow(ACCESS_LOG_CSV_COLUMNS)
            for row in queryset.values_list(
                "id", "at", "username", "session_uuid", "what", "remote_addr", "detail"
            ).iterator(chunk_size=1000):
                pk, at, username, session_uuid, what, remote_addr, detail = row
                yield writer.writerow(
                    [pk, at.isoformat(), username, session_uuid or "", what, remote_addr or "", detail]
                )

        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="personal-data-access-{stamp}.csv"'
        return response


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(admin.ModelAdmin):
    list_display = ("client", "images_days", "personal_data_days", "updated_at")
    search_fields = ("client__code", "client__name")
    list_select_related = ("client",)
