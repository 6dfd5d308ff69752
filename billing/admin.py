"""Finance admin: the ledger (append-only, read-only here), pricing tiers,
holds and accounts, plus pieces the Client admin page wires in. With the hook
points of clients/admin.py that is (portal/admin.py does exactly this):

    from billing.admin import (LedgerEntryInline, PricingTierInline, annotate_clients, balance_display,
                               mtd_usage_display, topup_object_tool, topup_urls)

    class ClientAdmin(admin.ModelAdmin):
        inlines = (ApiKeyInline, PricingTierInline, LedgerEntryInline)
        list_display = (..., balance_display, mtd_usage_display)

        def get_queryset(self, request):
            return annotate_clients(super().get_queryset(request))  # no N+1 for the two columns

        def get_extra_urls(self):
            # Extra urls must come before the defaults ("<path:object_id>/" would swallow them).
            return [...] + topup_urls(self.admin_site)

        def get_object_tools(self, request, obj):
            return [...] + [t for t in [topup_object_tool(request, obj)] if t]

The page itself is reverse("admin:clients_client_topup", args=[client.pk]).
"""

import uuid

from django import forms
from django.contrib import admin, messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from clients.models import Client
from truestack.csvexport import CsvExportAdminMixin
from truestack.errors import ApplicationError
from truestack.formats import iso_utc

from . import selectors, services
from .models import CreditAccount, Hold, LedgerEntry, PricingTier

LEDGER_INLINE_LIMIT = 50
TOPUP_PERMISSION = "billing.add_ledgerentry"


# --- pricing tier validation ------------------------------------------------------


def _check_tier_ranges(tiers: list[tuple[str, int, int | None]]) -> list[str]:
    """Errors for (name, min, max) ranges that are inverted or overlap."""
    errors = []
    for name, low, high in tiers:
        if high is not None and high < low:
            errors.append(f"{name}: the last ordinal ({high}) is below the first ({low}).")
    ordered = sorted(tiers, key=lambda t: t[1])
    for (name_a, _, high_a), (name_b, low_b, _) in zip(ordered, ordered[1:]):
        if high_a is None or high_a >= low_b:
            errors.append(f"Tiers {name_a!r} and {name_b!r} overlap: each ordinal may have one price.")
    return errors


class PricingTierForm(forms.ModelForm):
    class Meta:
        model = PricingTier
        fields = ["client", "name", "min_volume", "max_volume", "credits_per_session"]

    def clean(self):
        data = super().clean()
        client = data.get("client")
        low = data.get("min_volume")
        if client is None or low is None:
            return data
        if low < 1:
            raise ValidationError("Ordinals start at 1.")
        others = PricingTier.objects.filter(client=client).exclude(pk=self.instance.pk)
        ranges = [(t.name, t.min_volume, t.max_volume) for t in others]
        ranges.append((data.get("name") or "this tier", low, data.get("max_volume")))
        errors = _check_tier_ranges(ranges)
        if errors:
            raise ValidationError(errors)
        return data


class PricingTierFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        if any(self.errors):
            return
        ranges = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE") or data.get("min_volume") is None:
                continue
            if data["min_volume"] < 1:
                raise ValidationError("Ordinals start at 1.")
            ranges.append((data.get("name") or "a tier", data["min_volume"], data.get("max_volume")))
        errors = _check_tier_ranges(ranges)
        if errors:
            raise ValidationError(errors)


class PricingTierInline(admin.TabularInline):
    """Tiers on the Client page; only staff holding the pricingtier permissions
    (the finance role) see or edit them."""

    model = PricingTier
    formset = PricingTierFormSet
    fields = ["name", "min_volume", "max_volume", "credits_per_session"]
    extra = 0
    ordering = ["min_volume"]

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("billing.view_pricingtier") or request.user.has_perm("billing.change_pricingtier")

    def has_add_permission(self, request, obj=None):
        return request.user.has_perm("billing.add_pricingtier")

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm("billing.change_pricingtier")

    def has_delete_permission(self, request, obj=None):
        return request.user.has_perm("billing.delete_pricingtier")


# --- ledger -----------------------------------------------------------------------

LEDGER_FIELDS = [
    "created_at",
    "kind",
    "amount",
    "balance_after",
    "tier_name",
    "month_ordinal",
    "session",
    "description",
    "created_by",
]


class LatestLedgerFormSet(BaseInlineFormSet):
    def get_queryset(self):
        if not hasattr(self, "_queryset"):
            self._queryset = self.queryset.select_related("session", "created_by").order_by("-id")[:LEDGER_INLINE_LIMIT]
        return self._queryset


class LedgerEntryInline(admin.TabularInline):
    """The latest 50 entries of a client, read-only, with the running balance."""

    model = LedgerEntry
    formset = LatestLedgerFormSet
    fields = LEDGER_FIELDS
    readonly_fields = LEDGER_FIELDS
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False
    verbose_name_plural = f"ledger (latest {LEDGER_INLINE_LIMIT} entries)"

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("billing.view_ledgerentry")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(LedgerEntry)
class LedgerEntryAdmin(CsvExportAdminMixin, ReadOnlyAdmin):
    """Append-only: entries come from billing.services only (top-ups through the
    Client page's "Add credits" form or `manage.py topup`)."""

    list_display = [
        "created_at",
        "client",
        "kind",
        "amount",
        "balance_after",
        "tier_name",
        "month_ordinal",
        "session",
        "description",
        "created_by",
    ]
    list_filter = ["kind", ("client", admin.RelatedOnlyFieldListFilter), "created_at"]
    list_select_related = ["client", "session", "created_by"]
    search_fields = ["client__code", "client__name", "description", "=session__id"]
    date_hierarchy = "created_at"
    ordering = ["-id"]
    fields = ["client"] + LEDGER_FIELDS
    readonly_fields = fields
    show_full_result_count = False
    csv_name = "ledger"

    def csv_columns(self, request):
        return [
            ("id", lambda e: e.pk),
            ("created_at_utc", lambda e: iso_utc(e.created_at)),
            ("client", lambda e: e.client.code),
            ("kind", lambda e: e.kind),
            ("amount", lambda e: e.amount),
            ("balance_after", lambda e: e.balance_after),
            ("tier", lambda e: e.tier_name),
            ("month_ordinal", lambda e: e.month_ordinal),
            ("session_id", lambda e: e.session_id),
            ("description", lambda e: e.description),
            ("created_by", lambda e: e.created_by.get_username() if e.created_by_id else ""),
        ]

    def csv_queryset(self, request, queryset):
        # The session itself is not needed, only its id.
        return queryset.select_related(None).select_related("client", "created_by")


@admin.register(PricingTier)
class PricingTierAdmin(admin.ModelAdmin):
    form = PricingTierForm
    list_display = ["client", "name", "min_volume", "max_volume", "credits_per_session"]
    list_filter = [("client", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["client"]
    search_fields = ["client__code", "client__name", "name"]


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "client", "session", "amount", "status", "settled_at"]
    list_filter = ["status", ("client", admin.RelatedOnlyFieldListFilter), "created_at"]
    list_select_related = ["client", "session"]
    search_fields = ["client__code", "=session__id"]
    ordering = ["-id"]
    readonly_fields = ["client", "session", "amount", "status", "created_at", "settled_at"]
    fields = readonly_fields


@admin.register(CreditAccount)
class CreditAccountAdmin(ReadOnlyAdmin):
    list_display = [
        "client",
        "balance",
        "held",
        "available_display",
        "mtd_sessions_display",
        "mtd_credits_display",
        "updated_at",
    ]
    list_select_related = ["client"]
    search_fields = ["client__code", "client__name"]
    ordering = ["client__code"]
    fields = [
        "client",
        "balance",
        "held",
        "available_display",
        "mtd_sessions_display",
        "mtd_credits_display",
        "updated_at",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(billing_available=F("balance") - F("held"))
            .annotate(**selectors.month_to_date_subqueries("client_id"))
        )

    @admin.display(description="available", ordering="billing_available")
    def available_display(self, obj):
        return obj.billing_available

    @admin.display(description="sessions this month", ordering="billing_mtd_sessions")
    def mtd_sessions_display(self, obj):
        return obj.billing_mtd_sessions

    @admin.display(description="credits used this month", ordering="billing_mtd_credits")
    def mtd_credits_display(self, obj):
        return obj.billing_mtd_credits


# --- columns for the Client changelist ------------------------------------------


def annotate_clients(queryset):
    """Annotate a Client queryset with billing_balance, billing_held,
    billing_mtd_sessions and billing_mtd_credits, all in the same query."""
    account = CreditAccount.objects.filter(client_id=OuterRef("pk"))
    return queryset.annotate(
        billing_balance=Coalesce(Subquery(account.values("balance")[:1], output_field=IntegerField()), Value(0)),
        billing_held=Coalesce(Subquery(account.values("held")[:1], output_field=IntegerField()), Value(0)),
        **selectors.month_to_date_subqueries("pk"),
    )


@admin.display(description="credits", ordering="billing_balance")
def balance_display(client) -> int:
    """Balance column; expects annotate_clients() (falls back to one query)."""
    if hasattr(client, "billing_balance"):
        return client.billing_balance
    return selectors.balance_get(client=client)


@admin.display(description="this month", ordering="billing_mtd_sessions")
def mtd_usage_display(client) -> str:
    """Month-to-date usage column; expects annotate_clients()."""
    if hasattr(client, "billing_mtd_sessions"):
        sessions, credits = client.billing_mtd_sessions, client.billing_mtd_credits
    else:
        sessions, credits = selectors.month_to_date_usage(client=client)
    return f"{sessions} sessions / {credits} credits"


client_balance_columns = (balance_display, mtd_usage_display)


# --- top-up form ------------------------------------------------------------------


class TopUpForm(forms.Form):
    credits = forms.IntegerField(help_text="10 credits = RM 1. Only an adjustment may be negative.")
    kind = forms.ChoiceField(
        choices=[(k.value, k.label) for k in services.MANUAL_KINDS], initial=LedgerEntry.Kind.TOPUP
    )
    description = forms.CharField(
        max_length=255, required=False, help_text="Invoice or payment reference, or the reason for an adjustment."
    )
    token = forms.CharField(widget=forms.HiddenInput)

    def clean(self):
        data = super().clean()
        if data.get("kind") == LedgerEntry.Kind.ADJUSTMENT and not (data.get("description") or "").strip():
            self.add_error("description", "Say why: an adjustment needs a description.")
        return data


def topup_view(request, client_id, admin_site=None):
    """Add credits to a client through credit_add (created_by = the staff user).
    The hidden one-time token makes a double-submitted form credit once."""
    if not request.user.has_perm(TOPUP_PERMISSION):
        raise PermissionDenied
    site = admin_site or admin.site
    client = get_object_or_404(Client, pk=client_id)
    change_url = reverse(f"{site.name}:clients_client_change", args=[client.pk])
    if request.method == "POST":
        form = TopUpForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            token_key = f"billing:topup-token:{data['token']}"
            if not cache.add(token_key, 1, timeout=24 * 3600):
                messages.warning(request, "This form was already submitted; no credits were added again.")
                return HttpResponseRedirect(change_url)
            try:
                entry = services.credit_add(
                    client=client,
                    credits=data["credits"],
                    kind=data["kind"],
                    description=data["description"],
                    created_by=request.user,
                )
            except ApplicationError as exc:
                cache.delete(token_key)
                form.add_error(None, exc.message)
            else:
                messages.success(
                    request,
                    f"{entry.get_kind_display()} of {entry.amount:+d} credits recorded for {client.code}; "
                    f"balance is now {entry.balance_after} credits.",
                )
                return HttpResponseRedirect(change_url)
    else:
        form = TopUpForm(initial={"token": uuid.uuid4().hex, "kind": LedgerEntry.Kind.TOPUP})
    context = {
        **site.each_context(request),
        "title": f"Add credits: {client.code}",
        "client": client,
        "opts": Client._meta,
        "form": form,
        "balance": selectors.balance_get(client=client),
        "available": selectors.available_get(client=client),
        "change_url": change_url,
    }
    request.current_app = site.name
    return TemplateResponse(request, "admin/billing/topup.html", context)


def topup_object_tool(request, client) -> tuple[str, str] | None:
    """(url, label) of the "Add credits" button for a client's page, or None
    when the user may not add credits."""
    if not request.user.has_perm(TOPUP_PERMISSION):
        return None
    return reverse("admin:clients_client_topup", args=[client.pk]), "Add credits"


def topup_urls(admin_site=None) -> list:
    """URL patterns for ClientAdmin.get_urls(); put them BEFORE the defaults."""
    site = admin_site or admin.site

    def view(request, client_id):
        return topup_view(request, client_id, admin_site=site)

    return [path("<uuid:client_id>/topup/", site.admin_view(view), name="clients_client_topup")]
