import json
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from truestack.csvexport import CsvExportAdminMixin
from truestack.formats import iso_utc

from .models import Attempt, Delivery, EndpointHealth, Event
from .selectors import window_hours
from .services import delivery_resend

if TYPE_CHECKING:
    # What the mixins below are mixed into (their super() calls reach it).
    _ModelAdmin = admin.ModelAdmin[Any]
else:
    _ModelAdmin = object


def _pretty_body(body) -> str:
    raw = bytes(body or b"")
    try:
        text = json.dumps(json.loads(raw), indent=2, ensure_ascii=False)
    except ValueError:
        text = raw.decode("utf-8", errors="replace")
    return format_html('<pre style="white-space: pre-wrap; margin: 0">{}</pre>', text)


def _delivery_links(deliveries) -> str:
    return (
        format_html_join(
            "",
            '<div><a href="{}">{}</a> — {} attempt(s)</div>',
            (
                (reverse("admin:webhooks_delivery_change", args=[d.pk]), d.get_state_display(), d.attempt_count)
                for d in deliveries
            ),
        )
        or "—"
    )


class ReadOnlyMixin:
    def has_add_permission(self, request, obj=None):
        return False


# Event bodies carry the session's personal data (name, ID number, address): shown
# only to staff who may see it (the permission is kyc's, named by string).
PERSONAL_DATA_PERMISSION = "kyc.view_session_images"


class BodyNeedsPersonalDataPermission(_ModelAdmin):
    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if request.user.has_perm(PERSONAL_DATA_PERMISSION):
            return fields
        return [field for field in fields if field != "pretty_body"]

    def has_delete_permission(self, request, obj=None):
        return False


class AttemptInline(ReadOnlyMixin, admin.TabularInline):
    model = Attempt
    fields = ("number", "started_at", "status_code", "duration_ms", "error", "response_excerpt")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("number",)

    def has_change_permission(self, request, obj=None):
        return False


class DeliveryInline(ReadOnlyMixin, admin.TabularInline):
    model = Delivery
    fields = ("url", "state", "attempt_count", "next_attempt_at", "last_attempt_at", "delivered_at", "last_error")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_change_permission(self, request, obj=None):
        return False


class EventInline(ReadOnlyMixin, admin.TabularInline):
    """For the KYC session page: the session's events and their deliveries."""

    model = Event
    fk_name = "session"
    fields = ("kind", "created_at", "deliveries_summary", "event_link")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name = "webhook event"
    verbose_name_plural = "webhook events"

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("deliveries")

    @admin.display(description="Deliveries")
    def deliveries_summary(self, obj):
        return _delivery_links(obj.deliveries.all())

    @admin.display(description="Event")
    def event_link(self, obj):
        return format_html('<a href="{}">{}</a>', reverse("admin:webhooks_event_change", args=[obj.pk]), obj.pk)


@admin.register(Event)
class EventAdmin(BodyNeedsPersonalDataPermission, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("id", "kind", "client", "session", "created_at", "delivery_states")
    list_filter = ("kind", "client")
    search_fields = ("=id", "=session__id", "session__ref_id")
    list_select_related = ("client",)
    date_hierarchy = "created_at"
    fields = ("id", "kind", "client", "session", "created_at", "pretty_body")
    readonly_fields = fields
    inlines = [DeliveryInline]

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("deliveries")

    @admin.display(description="Body (exact bytes sent, pretty-printed)")
    def pretty_body(self, obj):
        return _pretty_body(obj.body)

    @admin.display(description="Deliveries")
    def delivery_states(self, obj):
        return ", ".join(d.get_state_display() for d in obj.deliveries.all()) or "—"


@admin.register(Delivery)
class DeliveryAdmin(CsvExportAdminMixin, BodyNeedsPersonalDataPermission, ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "client",
        "event_kind",
        "session_link",
        "state",
        "attempt_count",
        "next_attempt_at",
        "last_attempt_at",
        "delivered_at",
        "last_error",
    )
    list_filter = (("event__client", admin.RelatedOnlyFieldListFilter), "event__kind", "state")
    search_fields = ("=id", "=event__id", "=event__session__id", "url")
    list_select_related = ("event", "event__client")
    date_hierarchy = "created_at"
    actions = ["resend_now"]
    inlines = [AttemptInline]
    show_full_result_count = False
    csv_name = "webhook-deliveries"
    fields = (
        "id",
        "event_link",
        "client",
        "event_kind",
        "session_link",
        "url",
        "state",
        "attempt_count",
        "next_attempt_at",
        "locked_until",
        "enqueued_at",
        "last_attempt_at",
        "delivered_at",
        "last_error",
        "created_at",
        "updated_at",
        "pretty_body",
    )
    readonly_fields = fields

    def csv_columns(self, request):
        return [
            ("id", lambda d: d.pk),
            ("client", lambda d: d.event.client.code),
            ("event_id", lambda d: d.event_id),
            ("event", lambda d: d.event.kind),
            ("session_id", lambda d: d.event.session_id),
            ("url", lambda d: d.url),
            ("state", lambda d: d.state),
            ("attempts", lambda d: d.attempt_count),
            ("created_at_utc", lambda d: iso_utc(d.created_at)),
            ("last_attempt_at_utc", lambda d: iso_utc(d.last_attempt_at)),
            ("delivered_at_utc", lambda d: iso_utc(d.delivered_at)),
            ("next_attempt_at_utc", lambda d: iso_utc(d.next_attempt_at)),
            ("last_error", lambda d: d.last_error),
        ]

    def csv_queryset(self, request, queryset):
        return queryset.defer("event__body")

    @admin.display(description="Client", ordering="event__client__code")
    def client(self, obj):
        return obj.event.client

    @admin.display(description="Event", ordering="event__kind")
    def event_kind(self, obj):
        return obj.event.kind

    @admin.display(description="Event")
    def event_link(self, obj):
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:webhooks_event_change", args=[obj.event_id]), obj.event_id
        )

    @admin.display(description="Session")
    def session_link(self, obj):
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:kyc_kycsession_change", args=[obj.event.session_id]),
            obj.event.session_id,
        )

    @admin.display(description="Body")
    def pretty_body(self, obj):
        return _pretty_body(obj.event.body)

    @admin.action(description="Resend now", permissions=["change"])
    def resend_now(self, request, queryset):
        count = 0
        with transaction.atomic():
            for delivery in queryset.select_for_update():
                delivery_resend(delivery=delivery)
                count += 1
        self.message_user(
            request, f"{count} deliver{'y' if count == 1 else 'ies'} queued for immediate resend.", messages.SUCCESS
        )

    def save_model(self, request, obj, form, change):
        # Every field is read-only; saving the loaded row would only race the workers.
        pass

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # The "Resend now" button posts the (read-only) change form; handle it
        # before any form processing.
        if request.method == "POST" and object_id and "_resend_now" in request.POST:
            obj = self.get_object(request, unquote(object_id))
            if obj is None:
                raise Http404("No such delivery")
            if not self.has_change_permission(request, obj):
                raise PermissionDenied
            with transaction.atomic():
                delivery_resend(delivery=obj)
            self.message_user(request, "Delivery queued for immediate resend.", messages.SUCCESS)
            return HttpResponseRedirect(request.path)
        return super().changeform_view(request, object_id, form_url, extra_context)


@admin.register(Attempt)
class AttemptAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("delivery", "number", "started_at", "status_code", "duration_ms", "error")
    list_filter = ("status_code",)
    list_select_related = ("delivery",)
    fields = ("delivery", "number", "started_at", "status_code", "duration_ms", "error", "response_excerpt")
    readonly_fields = fields
    ordering = ("-started_at",)

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(EndpointHealth)
class EndpointHealthAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Read-only: written by every delivery attempt (webhooks/services.py)."""

    list_display = (
        "host",
        "client",
        "success_rate_24h",
        "consecutive_failures",
        "first_failure_at",
        "last_success_at",
        "last_attempt_at",
        "alerted_at",
    )
    list_filter = (("client", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("host", "client__code")
    list_select_related = ("client",)
    fields = (
        "client",
        "host",
        "success_rate_24h",
        "consecutive_failures",
        "first_failure_at",
        "last_success_at",
        "last_attempt_at",
        "last_error",
        "alerted_at",
    )
    readonly_fields = fields
    ordering = ("-consecutive_failures", "host")

    def has_change_permission(self, request, obj=None):
        return False

    def lookup_allowed(self, lookup, value, request=None):
        return lookup == "host" or super().lookup_allowed(lookup, value, request)

    @admin.display(description="Success (24 h)")
    def success_rate_24h(self, obj):
        hours = window_hours(timezone.now())
        attempts = successes = 0
        for key, (tried, succeeded) in (obj.hourly or {}).items():
            if key in hours:
                attempts, successes = attempts + tried, successes + succeeded
        return f"{successes / attempts * 100:.1f}% of {attempts}" if attempts else "—"
