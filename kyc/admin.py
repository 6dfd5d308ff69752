"""The KYC session pages of the operator portal: a list that fits 1280 px with
search by name, IC number (with or without separators), ref_id, client code or
a metadata value; a read-only review page with a timeline and the actions an
operator needs (refresh from the provider, resend the latest webhook, show the
ID images); and a streamed CSV export of the list as filtered."""

import json
import uuid
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_POST
from rangefilter.filters import DateRangeFilterBuilder

from billing import selectors as billing_selectors
from truestack.csvexport import CsvExportAdminMixin
from truestack.formats import iso_utc, without_separators
from truestack.localtime import local_compact, local_datetime
from webhooks import selectors as webhook_selectors
from webhooks.services import delivery_resend

from .admin_privacy import SessionPrivacyAdminMixin  # access log, retention, Redact
from .documents import image_response
from .models import DOCUMENT_NUMBER_COMPACT, KycSession, PersonalDataAccess, ProviderCallback
from .privacy import can_view_personal_data, mask_address, mask_id_number, personal_data_access_record
from .selectors import stuck_filters
from .services import session_refresh

# Provider codes in words (Innovatif get-status / callback `status` and `result`).
PROVIDER_STATUS_WORDS = {
    "0": "0 — pending: the end user has not started",
    "1": "1 — processing: the end user opened the link",
    "2": "2 — completed",
    "3": "3 — expired at the provider",
}
PROVIDER_RESULT_WORDS = {"1": "1 — approved", "0": "0 — rejected", "2": "2 — rejected (not verifiable)"}
CALLBACK_STATUS_WORDS = {
    "0": "pending",
    "1": "end user opened the link (processing)",
    "2": "completed",
    "3": "expired",
}
REFRESH_PERMISSION = "kyc.change_kycsession"
RESEND_PERMISSION = "webhooks.change_delivery"


def _badge(value: str, label: str) -> str:
    return format_html('<span class="ts-badge ts-badge-{}">{}</span>', value, label)


def _flag(value: bool | None) -> str:
    return {True: "yes", False: "no", None: "—"}[value]


def _looks_like_id_number(compact: str) -> bool:
    """An IC number (12 digits) or a passport number (letters and at least 5 digits)."""
    digits = sum(ch.isdigit() for ch in compact)
    return compact.isalnum() and digits >= 5 and (compact.isdigit() or digits >= len(compact) - 3)


class AttentionFilter(admin.SimpleListFilter):
    """The dashboard's "need a look" figures link here."""

    title = "needs attention"
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return [
            ("quiet", "Open, no provider news past the poll threshold"),
            ("overdue", "Open past expiry"),
            ("failed_create", "Failed creates (24 h)"),
        ]

    def queryset(self, request, queryset):
        condition = stuck_filters(now=timezone.now()).get(self.value() or "")
        return queryset.filter(condition) if condition is not None else queryset


@admin.register(KycSession)
class KycSessionAdmin(SessionPrivacyAdminMixin, CsvExportAdminMixin, admin.ModelAdmin):
    list_display = ("short_id", "client_code", "end_user", "status_badge", "result_badge", "mode", "created")
    list_display_links = ("short_id",)
    list_filter = (
        "status",
        "result",
        "is_test",
        "client",  # every client (a short list), not a DISTINCT over all sessions
        ("created_at", DateRangeFilterBuilder(title="created (MYT)")),
        AttentionFilter,
    )
    search_fields = ("document_name",)  # the real search is get_search_results
    search_help_text = (
        "Name (part of it), IC or passport number (with or without dashes), ref_id, session id, client code "
        "or a metadata value."
    )
    list_select_related = ("client",)
    list_per_page = 50
    show_full_result_count = False  # no second COUNT(*) over every session
    actions = ["refresh_from_provider"]
    csv_name = "kyc-sessions"

    # --- list -----------------------------------------------------------------------

    def get_queryset(self, request):
        return super().get_queryset(request).defer("raw_result")

    @admin.display(description="Session", ordering="id")
    def short_id(self, obj: KycSession) -> str:
        return format_html('<span class="ts-mono" title="{}">{}</span>', obj.id, str(obj.id)[:8])

    @admin.display(description="Client", ordering="client__code")
    def client_code(self, obj: KycSession) -> str:
        return obj.client.code

    @admin.display(description="End user", ordering="document_name")
    def end_user(self, obj: KycSession) -> str:
        return obj.document_name or obj.ocr_full_name or "—"

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: KycSession) -> str:
        return _badge(obj.status, obj.get_status_display())

    @admin.display(description="Result", ordering="result")
    def result_badge(self, obj: KycSession) -> str:
        return _badge(obj.result, obj.get_result_display()) if obj.result else "—"

    @admin.display(description="Mode", ordering="is_test")
    def mode(self, obj: KycSession) -> str:
        return _badge("test", "TEST") if obj.is_test else _badge("live", "LIVE")

    @admin.display(description="Created (MYT)", ordering="created_at")
    def created(self, obj: KycSession) -> str:
        return local_compact(obj.created_at)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            return queryset.filter(pk=uuid.UUID(term)), False
        except ValueError:
            pass
        compact = without_separators(term)
        if _looks_like_id_number(compact):
            # Stored as the client typed it: compared without separators, through an index.
            numbers = queryset.annotate(_document_compact=DOCUMENT_NUMBER_COMPACT)
            # (ref_ids carry an underscore, so they never look like a number.)
            condition = Q(_document_compact=compact.upper()) | Q(provider_ref_id=term)
            return numbers.filter(condition), False
        condition = (
            Q(document_name__icontains=term)
            | Q(ocr_full_name__icontains=term)
            | Q(ref_id__iexact=term)
            | Q(provider_ref_id=term)
            | Q(client__code__iexact=term)
            | Q(metadata__icontains=term)
        )
        return queryset.filter(condition), False

    @admin.action(description="Refresh from provider", permissions=["change"])
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

    # --- permissions ------------------------------------------------------------------

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_refresh_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(REFRESH_PERMISSION)

    def has_resend_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(RESEND_PERMISSION)

    # --- CSV export -------------------------------------------------------------------

    def csv_columns(self, request: HttpRequest) -> list[tuple[str, Any]]:
        columns: list[tuple[str, Any]] = [
            ("id", lambda s: s.id),
            ("ref_id", lambda s: s.ref_id),
            ("client", lambda s: s.client.code),
            ("mode", lambda s: "test" if s.is_test else "live"),
            ("status", lambda s: s.status),
            ("result", lambda s: s.result),
            ("reject_message", lambda s: s.reject_message),
            ("document_type", lambda s: s.get_document_type_display()),
            ("created_at_utc", lambda s: iso_utc(s.created_at)),
            ("completed_at_utc", lambda s: iso_utc(s.completed_at)),
            ("expires_at_utc", lambda s: iso_utc(s.expires_at)),
        ]
        if can_view_personal_data(request.user):
            columns += [
                ("end_user_name", lambda s: s.document_name),
                ("document_number", lambda s: s.document_number),
                ("ocr_full_name", lambda s: s.ocr_full_name),
                ("date_of_birth", lambda s: s.date_of_birth),
            ]
        return columns

    def csv_queryset(self, request, queryset):
        return queryset.select_related("client")

    def csv_exported(self, request: HttpRequest) -> None:
        personal = can_view_personal_data(request.user)
        personal_data_access_record(
            user=request.user,
            what=PersonalDataAccess.What.EXPORT,
            request=request,
            detail=f"sessions CSV ({'with' if personal else 'without'} personal columns); filters: "
            + request.GET.urlencode()[:500],
        )

    # --- the review page ---------------------------------------------------------------

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<uuid:object_id>/refresh/", wrap(require_POST(self.refresh_view)), name="kyc_kycsession_refresh"),
            path(
                "<uuid:object_id>/resend-webhook/",
                wrap(require_POST(self.resend_view)),
                name="kyc_kycsession_resend_webhook",
            ),
            path("<uuid:object_id>/images/<str:kind>/", wrap(self.image_view), name="kyc_kycsession_image"),
            path("<uuid:object_id>/raw/", wrap(self.raw_result_view), name="kyc_kycsession_raw"),
            *super().get_urls(),
        ]

    def _session_or_404(self, request: HttpRequest, object_id: Any) -> KycSession:
        session = self.get_object(request, str(object_id))
        if session is None:
            raise Http404("No such session")
        if not self.has_view_permission(request, session):
            raise PermissionDenied
        return session

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # Nothing on a session is edited by hand: the page is a read-only review.
        if request.method != "GET":
            return HttpResponse(status=405)
        try:
            object_id = uuid.UUID(object_id)
        except ValueError:
            raise Http404("No such session") from None
        session = self._session_or_404(request, object_id)
        response = TemplateResponse(
            request,
            "admin/kyc/kycsession/review.html",
            {**self.admin_site.each_context(request), **self.review_context(request, session)},
        )
        self.personal_data_page_viewed(request, session)
        return response

    def get_object(self, request, object_id, from_field=None):
        try:
            return (
                KycSession.objects.select_related("client", "api_key")
                .defer("raw_result")
                .get(pk=uuid.UUID(str(object_id)))
            )
        except (ValueError, KycSession.DoesNotExist):
            return None

    def review_context(self, request: HttpRequest, session: KycSession) -> dict[str, Any]:
        personal = can_view_personal_data(request.user)
        callbacks = list(
            ProviderCallback.objects.filter(session=session)
            .order_by("received_at")
            .only("id", "received_at", "provider_status", "state", "error", "session_id")
        )
        hold, entries = billing_selectors.session_billing(session_id=session.pk)
        events = webhook_selectors.events_for_session(session_id=session.pk)
        latest_delivery = None
        for event in events:
            for delivery in event.deliveries.all():
                latest_delivery = delivery
        number = session.document_number if personal else mask_id_number(session.document_number)
        ocr_number = session.ocr_id_number if personal else mask_id_number(session.ocr_id_number)
        address = session.ocr_address if personal else mask_address(session.ocr_address)
        return {
            "opts": self.opts,
            "title": f"Session {str(session.id)[:8]} · {session.document_name or session.ref_id}",
            "subtitle": None,
            "session": session,
            "status_badge": _badge(session.status, session.get_status_display()),
            "result_badge": _badge(session.result, session.get_result_display()) if session.result else "",
            "mode_badge": _badge("test", "TEST") if session.is_test else _badge("live", "LIVE"),
            "client_url": reverse("admin:clients_client_change", args=[session.client_id]),
            "times": [
                ("Created", local_datetime(session.created_at)),
                ("Updated", local_datetime(session.updated_at)),
                ("Expires", local_datetime(session.expires_at)),
                ("Completed", local_datetime(session.completed_at) or "—"),
                ("Last callback", local_datetime(session.last_callback_at) or "—"),
                ("Last status check", local_datetime(session.last_provider_check_at) or "—"),
            ],
            "request_rows": [
                ("ref_id", session.ref_id),
                ("Document", f"{session.get_document_type_display()} {number}"),
                ("Platform", session.get_platform_display()),
                ("Webhook URL", session.webhook_url),
                ("Redirect URL", session.redirect_url or "—"),
                ("Metadata", json.dumps(session.metadata, ensure_ascii=False) if session.metadata else "—"),
                ("API key", session.api_key.masked),
            ],
            "provider_rows": [
                ("Provider ref id", session.provider_ref_id or "—"),
                ("Onboarding id", session.onboarding_id or "—"),
                ("Provider status", PROVIDER_STATUS_WORDS.get(session.provider_status, session.provider_status or "—")),
                ("Provider result", PROVIDER_RESULT_WORDS.get(session.provider_result, session.provider_result or "—")),
                ("Provider error", session.provider_error or "—"),
            ],
            "result_rows": [
                ("Name on the document", session.ocr_full_name or "—"),
                ("ID number read", ocr_number or "—"),
                ("Address", address or "—"),
                ("Date of birth", session.date_of_birth.strftime("%d %b %Y") if session.date_of_birth else "—"),
                ("Gender / nationality", f"{session.ocr_gender or '—'} / {session.ocr_nationality or '—'}"),
                ("Document genuine", _flag(session.document_valid)),
                ("Name matches", _flag(session.name_match)),
                ("ID number matches", _flag(session.id_match)),
                ("Front and back match", _flag(session.front_back_match)),
                ("Security features", _flag(session.landmark_valid)),
                ("Face matches", f"{_flag(session.face_match)} ({session.face_match_score or '—'})"),
                ("Liveness", _flag(session.liveness_passed)),
            ],
            "personal": personal,
            "data_protection": self.data_protection(session, request),
            "timeline": self.timeline(session, callbacks, hold, entries, events),
            "can_refresh": self.has_refresh_permission(request),
            "can_resend": self.has_resend_permission(request) and latest_delivery is not None,
            "latest_delivery": latest_delivery,
            "can_view_images": request.user.has_perm("kyc.view_session_images"),
            "image_kinds": [kind for kind in KycSession.DOCUMENT_KINDS if getattr(session, kind)],
            "refresh_url": reverse("admin:kyc_kycsession_refresh", args=[session.pk]),
            "resend_url": reverse("admin:kyc_kycsession_resend_webhook", args=[session.pk]),
            "raw_url": reverse("admin:kyc_kycsession_raw", args=[session.pk]),
            "callbacks_url": reverse("admin:kyc_providercallback_changelist") + f"?q={session.pk}",
            "changelist_url": reverse("admin:kyc_kycsession_changelist"),
        }

    @staticmethod
    def timeline(session: KycSession, callbacks: list, hold: Any, entries: list, events: list) -> list[dict]:
        items: list[dict] = []

        def add(when: Any, text: str, bad: bool = False, url: str = "") -> None:
            if when is not None:
                items.append({"when": when, "text": text, "bad": bad, "url": url})

        add(
            session.created_at,
            f"Session created with {session.api_key.masked} ({'test' if session.is_test else 'live'})",
        )
        if session.provider_ref_id:
            add(session.created_at, f"Provider transaction created ({session.provider_ref_id})")
        elif session.status == KycSession.Status.FAILED:
            add(session.updated_at, f"Provider transaction not created: {session.provider_error or 'no answer'}", True)
        if hold is not None:
            add(hold.created_at, f"Hold of {hold.amount} credits placed")
            if hold.settled_at:
                add(hold.settled_at, f"Hold {hold.get_status_display().lower()}")
        for callback in callbacks:
            words = CALLBACK_STATUS_WORDS.get(callback.provider_status, f"status {callback.provider_status or '?'}")
            bad = callback.state in (ProviderCallback.State.REJECTED, ProviderCallback.State.FAILED)
            add(
                callback.received_at,
                f"Provider callback: {words} — {callback.get_state_display().lower()}"
                + (f" ({callback.error})" if callback.error else ""),
                bad,
                reverse("admin:kyc_providercallback_change", args=[callback.pk]),
            )
        if session.completed_at:
            verdict = session.get_result_display() if session.result else "no result"
            add(
                session.completed_at,
                f"Completed: {verdict}" + (f" — {session.reject_message}" if session.reject_message else ""),
                session.result == KycSession.Result.REJECTED,
            )
        elif session.status == KycSession.Status.EXPIRED:
            add(session.updated_at, "Expired", True)
        for entry in entries:
            add(
                entry.created_at,
                f"{entry.get_kind_display()}: {entry.amount:+d} credits ({entry.tier_name or 'default'})",
            )
        for event in events:
            add(event.created_at, f"Webhook event {event.kind} recorded")
            for delivery in event.deliveries.all():
                url = reverse("admin:webhooks_delivery_change", args=[delivery.pk])
                for attempt in delivery.attempts.all():
                    if attempt.status_code:
                        answer = f"HTTP {attempt.status_code}"
                    else:
                        answer = attempt.error or "no answer yet"
                    took = f" in {attempt.duration_ms} ms" if attempt.duration_ms is not None else ""
                    ok = attempt.status_code is not None and 200 <= attempt.status_code < 300
                    add(
                        attempt.started_at,
                        f"Webhook attempt {attempt.number} to {delivery.url}: {answer}{took}",
                        not ok,
                        url,
                    )
                if delivery.state in ("retrying", "failed") and delivery.next_attempt_at:
                    add(delivery.next_attempt_at, f"Next webhook attempt due ({delivery.get_state_display().lower()})")
        items.sort(key=lambda item: item["when"])
        for item in items:
            item["when_local"] = local_datetime(item["when"], seconds=True)
        return items

    def refresh_view(self, request: HttpRequest, object_id: uuid.UUID) -> HttpResponse:
        session = self._session_or_404(request, object_id)
        if not self.has_refresh_permission(request):
            raise PermissionDenied
        outcome = session_refresh(session=session)
        if outcome.error:
            self.message_user(request, f"The provider could not be asked: {outcome.error}.", messages.ERROR)
        elif not outcome.refreshed:
            self.message_user(request, "The session is already final; nothing to refresh.", messages.INFO)
        else:
            self.message_user(
                request, f"Refreshed from the provider: now {outcome.session.get_status_display()}.", messages.SUCCESS
            )
        return HttpResponseRedirect(reverse("admin:kyc_kycsession_change", args=[session.pk]))

    def resend_view(self, request: HttpRequest, object_id: uuid.UUID) -> HttpResponse:
        session = self._session_or_404(request, object_id)
        if not self.has_resend_permission(request):
            raise PermissionDenied
        delivery = webhook_selectors.delivery_latest_for_session(session_id=session.pk)
        if delivery is None:
            self.message_user(request, "This session has no webhook to resend yet.", messages.WARNING)
        else:
            with transaction.atomic():
                delivery_resend(delivery=delivery)
            self.message_user(request, f"Webhook queued for immediate resend to {delivery.url}.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:kyc_kycsession_change", args=[session.pk]))

    def image_view(self, request: HttpRequest, object_id: uuid.UUID, kind: str) -> FileResponse:
        session = self._session_or_404(request, object_id)
        if not request.user.has_perm("kyc.view_session_images"):
            raise PermissionDenied
        if kind not in KycSession.DOCUMENT_KINDS or not getattr(session, kind):
            raise Http404("No such image")
        response = image_response(getattr(session, kind), cache_control="private, no-store")
        if response is None:
            raise Http404("Image not in storage")
        personal_data_access_record(
            user=request.user, what=PersonalDataAccess.What.IMAGES, session=session, request=request, detail=kind
        )
        return response

    def raw_result_view(self, request: HttpRequest, object_id: uuid.UUID) -> HttpResponse:
        session = self._session_or_404(request, object_id)
        if not can_view_personal_data(request.user):
            raise PermissionDenied
        raw = KycSession.objects.values_list("raw_result", flat=True).get(pk=session.pk)
        personal_data_access_record(
            user=request.user, what=PersonalDataAccess.What.RAW_PROVIDER_BODY, session=session, request=request
        )
        response = HttpResponse(
            json.dumps(raw, indent=2, ensure_ascii=False, sort_keys=True), content_type="text/plain; charset=utf-8"
        )
        response["Cache-Control"] = "private, no-store"
        return response


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
