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
`BillingProfileInline` (finance only) may be appended to the Client page's inlines too.

Statements, invoices, payments, the aging report and billing profiles have their own
pages (Billing → …), for finance staff and superusers only.
"""

import csv
import io
import uuid
from decimal import Decimal
from itertools import pairwise

from django import forms
from django.contrib import admin, messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from clients.models import Client
from truestack.csvexport import CsvExportAdminMixin
from truestack.errors import ApplicationError
from truestack.formats import iso_utc

from . import invoices, pdf, selectors, services, statements
from .models import BillingProfile, CreditAccount, Hold, Invoice, LedgerEntry, Payment, PricingTier, Statement
from .money import credits_to_rm, format_rm

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
    for (name_a, _, high_a), (name_b, low_b, _) in pairwise(ordered):
        if high_a is None or high_a >= low_b:
            errors.append(f"Tiers {name_a!r} and {name_b!r} overlap: each ordinal may have one price.")
    return errors


class PricingTierForm(forms.ModelForm):
    class Meta:
        model = PricingTier
        fields = ["client", "name", "min_volume", "max_volume", "credits_per_session"]

    def clean(self):
        super().clean()
        data = self.cleaned_data
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

LEDGER_FIELDS = (
    "created_at",
    "kind",
    "amount",
    "balance_after",
    "tier_name",
    "month_ordinal",
    "session",
    "description",
    "created_by",
)


class LatestLedgerFormSet(BaseInlineFormSet):
    def get_queryset(self):
        if not hasattr(self, "_queryset"):
            latest = super().get_queryset().select_related("session", "created_by").order_by("-id")
            self._queryset = latest[:LEDGER_INLINE_LIMIT]
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
    fields = ("client", *LEDGER_FIELDS)
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
    readonly_fields = ("client", "session", "amount", "status", "created_at", "settled_at")
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
    fields = (
        "client",
        "balance",
        "held",
        "available_display",
        "mtd_sessions_display",
        "mtd_credits_display",
        "updated_at",
    )
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
        super().clean()
        data = self.cleaned_data
        if data.get("kind") == LedgerEntry.Kind.ADJUSTMENT and not (data.get("description") or "").strip():
            self.add_error("description", "Say why: an adjustment needs a description.")
        return data


def _record_credits(*, client, data: dict, user) -> LedgerEntry:
    """A paid top-up also issues its tax invoice (billing.invoices); other kinds are credits only."""
    if data["kind"] == LedgerEntry.Kind.TOPUP:
        from .invoices import topup_record

        return topup_record(client=client, credits=data["credits"], description=data["description"], created_by=user)[0]
    return services.credit_add(
        client=client, credits=data["credits"], kind=data["kind"], description=data["description"], created_by=user
    )


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
                entry = _record_credits(client=client, data=data, user=request.user)
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


# --- billing documents: statements, invoices, payments (finance only) ---------------

FINANCE_GROUP = "finance"


def is_finance(user) -> bool:
    """Finance staff (the `finance` group) and superusers run billing documents."""
    if not (user.is_active and user.is_staff):
        return False
    return user.is_superuser or user.groups.filter(name=FINANCE_GROUP).exists()


def _require_finance(request) -> None:
    if not is_finance(request.user):
        raise PermissionDenied


def _pdf_download(document) -> HttpResponse:
    response = HttpResponse(pdf.document_pdf(document), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{pdf.document_pdf_filename(document)}"'
    response["Cache-Control"] = "private, no-store"
    return response


class MonthForm(forms.Form):
    month = forms.CharField(help_text="YYYY-MM, a month that is over (Asia/Kuala_Lumpur).")
    client = forms.ModelChoiceField(
        queryset=Client.objects.order_by("code"),
        required=False,
        help_text="Empty: every client with a credit account.",
    )

    def clean_month(self):
        try:
            return statements.month_parse(self.cleaned_data["month"].strip())
        except ApplicationError as exc:
            raise ValidationError(exc.message) from None


class PaymentForm(forms.Form):
    amount = forms.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0.01"), help_text="RM")
    paid_on = forms.DateField(help_text="YYYY-MM-DD")
    method = forms.ChoiceField(choices=Payment.Method.choices)
    reference = forms.CharField(max_length=100, required=False, help_text="Bank reference, cheque number…")


class VoidForm(forms.Form):
    reason = forms.CharField(max_length=255, help_text="Printed on the credit note.")


class FinanceDocumentAdmin(ReadOnlyAdmin):
    """Read-only pages; changes go through billing.invoices / billing.statements."""

    def has_module_permission(self, request):
        return is_finance(request.user)

    def has_view_permission(self, request, obj=None):
        return is_finance(request.user)

    def _form_page(self, request, *, form, title: str, submit_label: str, intro: str = ""):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "form": form,
            "submit_label": submit_label,
            "intro": intro,
            "back_url": reverse(f"admin:billing_{self.model._meta.model_name}_changelist"),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/billing/form_page.html", context)


@admin.register(Statement)
class StatementAdmin(FinanceDocumentAdmin):
    list_display = [
        "month_display",
        "client",
        "opening_balance",
        "credits_in_display",
        "usage_sessions",
        "usage_credits",
        "closing_balance",
        "closing_rm_display",
        "pdf_link",
    ]
    list_filter = ["month", ("client", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["client"]
    search_fields = ["client__code", "client__name"]
    ordering = ["-month", "client__code"]
    fields = (
        "client",
        "month",
        "period_start",
        "period_end",
        "opening_balance",
        "topup_credits",
        "included_credits",
        "refund_credits",
        "adjustment_credits",
        "usage_sessions",
        "usage_credits",
        "closing_balance",
        "usage_by_tier",
        "credit_lines",
        "cut_entry_id",
        "created_at",
        "created_by",
        "pdf_link",
    )
    readonly_fields = fields
    change_list_template = "admin/billing/statement/change_list.html"

    @admin.display(description="month", ordering="month")
    def month_display(self, obj):
        return obj.month.strftime("%Y-%m")

    @admin.display(description="credits in")
    def credits_in_display(self, obj):
        return obj.topup_credits + obj.included_credits + obj.refund_credits + obj.adjustment_credits

    @admin.display(description="closing RM")
    def closing_rm_display(self, obj):
        return format_rm(credits_to_rm(obj.closing_balance))

    @admin.display(description="PDF")
    def pdf_link(self, obj):
        if obj.pk is None:
            return ""
        return format_html('<a href="{}">PDF</a>', reverse("admin:billing_statement_pdf", args=[obj.pk]))

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("generate/", wrap(self.generate_view), name="billing_statement_generate"),
            path("<int:statement_id>/pdf/", wrap(self.pdf_view), name="billing_statement_pdf"),
        ] + super().get_urls()

    def pdf_view(self, request, statement_id):
        _require_finance(request)
        return _pdf_download(get_object_or_404(Statement.objects.select_related("client"), pk=statement_id))

    def generate_view(self, request):
        _require_finance(request)
        form = MonthForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                issued = statements.statements_generate_for_month(
                    month=form.cleaned_data["month"], client=form.cleaned_data["client"], created_by=request.user
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(
                    request,
                    f"{len(issued)} statement(s) issued for {form.cleaned_data['month']:%Y-%m}; "
                    "statements already issued were left as they are.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:billing_statement_changelist"))
        return self._form_page(
            request,
            form=form,
            title="Issue statements",
            submit_label="Issue",
            intro="Issues the statement of a past month (and any earlier month not issued yet).",
        )


class PaymentInline(admin.TabularInline):
    model = Payment
    fields = ("paid_on", "amount", "method", "reference", "created_by", "created_at")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False

    def has_view_permission(self, request, obj=None):
        return is_finance(request.user)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Invoice)
class InvoiceAdmin(FinanceDocumentAdmin):
    list_display = [
        "number",
        "client",
        "kind",
        "status",
        "issue_date",
        "due_date",
        "total",
        "amount_paid",
        "outstanding_display",
        "links",
    ]
    list_filter = ["status", "kind", ("client", admin.RelatedOnlyFieldListFilter), "issue_date"]
    list_select_related = ["client"]
    search_fields = ["number", "client__code", "client__name"]
    ordering = ["-created_at", "-id"]
    inlines = [PaymentInline]
    fields = (
        "number",
        "kind",
        "status",
        "client",
        "issue_date",
        "due_date",
        "period_month",
        "credits",
        "lines",
        "subtotal",
        "sst_rate",
        "sst_amount",
        "total",
        "amount_paid",
        "outstanding_display",
        "original",
        "ledger_entry",
        "bill_to",
        "note",
        "created_by",
        "created_at",
        "links",
    )
    readonly_fields = fields
    change_list_template = "admin/billing/invoice/change_list.html"

    @admin.display(description="outstanding")
    def outstanding_display(self, obj):
        if obj.status == Invoice.Status.VOID or obj.kind == Invoice.Kind.CREDIT_NOTE:
            return "—"
        return obj.total - obj.amount_paid

    @admin.display(description="")
    def links(self, obj):
        if obj.pk is None:
            return ""
        parts = [format_html('<a href="{}">PDF</a>', reverse("admin:billing_invoice_pdf", args=[obj.pk]))]
        if obj.kind != Invoice.Kind.CREDIT_NOTE and obj.status != Invoice.Status.VOID:
            if obj.status != Invoice.Status.PAID:
                url = reverse("admin:billing_invoice_payment", args=[obj.pk])
                parts.append(format_html('<a href="{}">Record payment</a>', url))
            parts.append(format_html('<a href="{}">Void</a>', reverse("admin:billing_invoice_void", args=[obj.pk])))
        return format_html_join(" | ", "{}", ((part,) for part in parts))

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("issue-monthly/", wrap(self.issue_monthly_view), name="billing_invoice_issue_monthly"),
            path("aging.csv", wrap(self.aging_view), name="billing_invoice_aging"),
            path("<int:invoice_id>/pdf/", wrap(self.pdf_view), name="billing_invoice_pdf"),
            path("<int:invoice_id>/payment/", wrap(self.payment_view), name="billing_invoice_payment"),
            path("<int:invoice_id>/void/", wrap(self.void_view), name="billing_invoice_void"),
        ] + super().get_urls()

    def _invoice(self, request, invoice_id) -> Invoice:
        _require_finance(request)
        return get_object_or_404(Invoice.objects.select_related("client", "original"), pk=invoice_id)

    def _change_url(self, invoice: Invoice) -> str:
        return reverse("admin:billing_invoice_change", args=[invoice.pk])

    def pdf_view(self, request, invoice_id):
        return _pdf_download(self._invoice(request, invoice_id))

    def payment_view(self, request, invoice_id):
        invoice = self._invoice(request, invoice_id)
        form = PaymentForm(request.POST or None, initial={"paid_on": invoices.today()})
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                payment = invoices.payment_record(
                    invoice=invoice,
                    amount=data["amount"],
                    paid_on=data["paid_on"],
                    method=data["method"],
                    reference=data["reference"],
                    created_by=request.user,
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                self.log_change(request, invoice, f"Recorded payment of RM {payment.amount}")
                self.message_user(request, f"Payment of RM {payment.amount} recorded on {invoice.number}.")
                return HttpResponseRedirect(self._change_url(invoice))
        return self._form_page(
            request,
            form=form,
            title=f"Record payment: {invoice.number}",
            submit_label="Record payment",
            intro=f"{invoice.client.code}: total {format_rm(invoice.total)}, paid {format_rm(invoice.amount_paid)}, "
            f"outstanding {format_rm(invoice.total - invoice.amount_paid)}.",
        )

    def void_view(self, request, invoice_id):
        invoice = self._invoice(request, invoice_id)
        form = VoidForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                note = invoices.invoice_void(
                    invoice=invoice, reason=form.cleaned_data["reason"], created_by=request.user
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                self.log_change(request, invoice, f"Voided by credit note {note.number}")
                self.message_user(request, f"{invoice.number} voided by credit note {note.number}.")
                return HttpResponseRedirect(self._change_url(note))
        return self._form_page(
            request,
            form=form,
            title=f"Void {invoice.number}",
            submit_label="Void and issue credit note",
            intro=f"Issues a credit note for {format_rm(invoice.total)} that references {invoice.number} and takes "
            f"back the {invoice.credits} credits it stands for. The invoice itself is not changed.",
        )

    def issue_monthly_view(self, request):
        _require_finance(request)
        form = MonthForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            month, client = form.cleaned_data["month"], form.cleaned_data["client"]
            try:
                if client is None:
                    issued = invoices.monthly_documents_generate(month=month, created_by=request.user)["invoices"]
                else:
                    invoice = invoices.monthly_invoice_issue(client=client, month=month, created_by=request.user)
                    issued = [invoice] if invoice is not None else []
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                numbers = ", ".join(invoice.number for invoice in issued) or "none needed"
                self.message_user(request, f"Monthly invoices for {month:%Y-%m}: {numbers}.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:billing_invoice_changelist"))
        return self._form_page(
            request,
            form=form,
            title="Issue monthly invoices",
            submit_label="Issue",
            intro="Issues the month's statements, then a monthly invoice for every client whose month closed in "
            "debt (post-paid). Invoices already issued are returned as they are.",
        )

    def aging_view(self, request):
        _require_finance(request)
        on = invoices.today()
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        columns = ["client", "name", "invoices"] + [name for name, _, _ in invoices.AGING_BUCKETS] + ["total"]
        writer.writerow(["client", "name", "invoices", "0-30 days", "31-60 days", "61-90 days", "90+ days", "total"])
        rows = invoices.aging_report(on=on)
        for row in rows:
            writer.writerow([row[column] for column in columns])
        totals = [sum((row[name] for row in rows), Decimal("0.00")) for name in columns[3:]]
        writer.writerow(["TOTAL", "", sum(row["invoices"] for row in rows), *totals])
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="truestack-aging-{on.isoformat()}.csv"'
        return response


@admin.register(BillingProfile)
class BillingProfileAdmin(admin.ModelAdmin):
    list_display = ["client", "legal_name", "registration_number", "sst_number", "billing_email", "payment_terms_days"]
    list_select_related = ["client"]
    search_fields = ["client__code", "client__name", "legal_name"]
    ordering = ["client__code"]

    def has_module_permission(self, request):
        return is_finance(request.user)

    def has_view_permission(self, request, obj=None):
        return is_finance(request.user)

    def has_add_permission(self, request):
        return is_finance(request.user)

    def has_change_permission(self, request, obj=None):
        return is_finance(request.user)

    def has_delete_permission(self, request, obj=None):
        return False


class BillingProfileInline(admin.StackedInline):
    """The billing profile on the Client page, for the Client admin to append to
    its inlines (finance only)."""

    model = BillingProfile
    extra = 0
    max_num = 1
    can_delete = False

    def has_view_permission(self, request, obj=None):
        return is_finance(request.user)

    def has_add_permission(self, request, obj=None):
        return is_finance(request.user)

    def has_change_permission(self, request, obj=None):
        return is_finance(request.user)
