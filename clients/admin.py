"""Operator portal for clients and API keys.

Raw API keys and webhook signing secrets are shown exactly once, in the response
to the POST that created them; they never go into a URL, the session, a message
or a log entry, and every other page shows them masked.

`ClientAdmin` is not registered here: clients stands on no other app, and the
operator's Client page also shows billing. portal/admin.py composes and registers
it through the hook points: `ClientAdmin.inlines` (a tuple), buttons in
`ClientAdmin.get_object_tools` and pages in `ClientAdmin.get_extra_urls`."""

import json
import secrets
from typing import Any, ClassVar

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import InlineModelAdmin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html, format_html_join

from truestack.crypto import decrypt_secret
from truestack.localtime import local_datetime

from .models import LABEL_MAX_LENGTH, ApiKey, Client
from .services import (
    api_key_create,
    api_key_revoke,
    client_create,
    client_reveal_webhook_secret,
    client_rotate_webhook_secret,
)


def _mask_secret(secret: str) -> str:
    prefix = "whsec_" if secret.startswith("whsec_") else ""
    return f"{prefix}…{secret[-4:]}"


class ApiKeyGenerateForm(forms.Form):
    environment = forms.ChoiceField(
        choices=ApiKey.Environment.choices,
        initial=ApiKey.Environment.LIVE,
        help_text="Live keys are billed and use the real provider; test keys are free and use the provider sandbox.",
    )
    label = forms.CharField(max_length=LABEL_MAX_LENGTH, required=False, help_text="A note to recognise the key by.")


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    template = "admin/clients/apikey/tabular_inline.html"
    extra = 0
    can_delete = False
    show_change_link = False
    fields = ("key", "environment", "label", "status", "created_at", "last_used_at", "actions")
    readonly_fields = fields
    ordering = ("-created_at",)

    def has_add_permission(self, request, obj=None):
        # Keys are made with "Generate API key", which shows the key once.
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Key")
    def key(self, obj):
        return obj.masked

    @admin.display(description="")
    def actions(self, obj):
        if obj.pk is None or obj.status != ApiKey.Status.ACTIVE:
            return ""
        url = reverse("admin:clients_client_revoke_api_key", args=[obj.client_id, obj.pk])
        return format_html('<a class="button" href="{}">Revoke</a>', url)


class ClientAdmin(admin.ModelAdmin):
    # Widened so portal/admin.py can add columns (the stubs expect str-returning callables only).
    list_display: tuple[Any, ...] = ("code", "name", "status", "overdraft", "created_at")
    list_filter = ("status",)
    search_fields = ("code", "name", "contact_email")
    ordering = ("code",)
    # Other apps' inlines (credits, sessions) are appended to this tuple.
    inlines: ClassVar[tuple[type[InlineModelAdmin], ...]] = (ApiKeyInline,)
    add_fields = ("code", "name", "allow_overdraft", "contact_email", "notes")
    fieldsets = (
        (None, {"fields": ("code", "name", "status", "allow_overdraft", "contact_email", "notes")}),
        ("Limits", {"fields": ("rate_limit_per_minute", "max_open_sessions")}),
        ("End-user pages", {"fields": ("display_name", "logo")}),
        ("Webhook signing", {"fields": ("webhook_secret",)}),
        ("Record", {"fields": ("id", "created_at", "updated_at")}),
    )

    @admin.display(description="Overdraft", boolean=True, ordering="allow_overdraft")
    def overdraft(self, obj):
        return obj.allow_overdraft

    @admin.display(description="Webhook signing secret")
    def webhook_secret(self, obj):
        if not obj.webhook_secret_encrypted:
            return "—"
        try:
            masked = _mask_secret(decrypt_secret(obj.webhook_secret_encrypted))
        except Exception:  # noqa: BLE001 - an undecryptable secret must not break the page
            return "(cannot be decrypted with the configured FIELD_ENCRYPTION_KEYS)"
        notes = []
        if obj.webhook_secret_shown_at is None and obj.pk:
            url = reverse("admin:clients_client_reveal_webhook_secret", args=[obj.pk])
            notes.append(format_html('never shown yet: <a class="button" href="{}">Show it once</a>', url))
        expires = obj.webhook_secret_previous_expires_at
        if obj.webhook_secret_previous_encrypted and expires and expires > timezone.now():
            notes.append(format_html("the previous secret also signs until {}", local_datetime(expires)))
        if not notes:
            return masked
        return format_html("{} — {}", masked, format_html_join("; ", "{}", ((n,) for n in notes)))

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return ((None, {"fields": self.add_fields}),)
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        # The code is part of provider reference ids already issued.
        return ("code", "webhook_secret", "id", "created_at", "updated_at")

    def get_inline_instances(self, request, obj=None):
        # Keys, tiers and the ledger belong to an existing client.
        return [] if obj is None else super().get_inline_instances(request, obj)

    def has_delete_permission(self, request, obj=None):
        # Clients carry billing and KYC history; suspend them instead.
        return False

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        created = client_create(
            code=obj.code,
            name=obj.name,
            allow_overdraft=obj.allow_overdraft,
            contact_email=obj.contact_email,
            notes=obj.notes,
        )
        obj.pk = created.pk
        obj._state.adding = False
        obj._state.db = created._state.db
        obj.refresh_from_db()

    # --- permissions for the custom pages -------------------------------------------

    def _has_key_perm(self, request, action: str) -> bool:
        return request.user.has_perm(f"clients.{action}_apikey")

    def has_generate_key_permission(self, request) -> bool:
        return self._has_key_perm(request, "add")

    def has_revoke_key_permission(self, request) -> bool:
        return self._has_key_perm(request, "change")

    def has_rotate_secret_permission(self, request, obj=None) -> bool:
        return self.has_change_permission(request, obj)

    # --- hook points ------------------------------------------------------------------

    def get_object_tools(self, request, obj) -> list[tuple[str, str]]:
        """(url, label) buttons on a client's page; other apps append theirs."""
        tools = []
        if self.has_generate_key_permission(request):
            tools.append((reverse("admin:clients_client_generate_api_key", args=[obj.pk]), "Generate API key"))
        if self.has_rotate_secret_permission(request, obj):
            tools.append(
                (reverse("admin:clients_client_rotate_webhook_secret", args=[obj.pk]), "Rotate webhook signing secret")
            )
        return tools

    def get_extra_urls(self) -> list:
        """Per-client pages; other apps append theirs (names start with clients_client_)."""
        wrap = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/api-keys/generate/",
                wrap(self.generate_api_key_view),
                name="clients_client_generate_api_key",
            ),
            path(
                "<path:object_id>/api-keys/<uuid:key_id>/revoke/",
                wrap(self.revoke_api_key_view),
                name="clients_client_revoke_api_key",
            ),
            path(
                "<path:object_id>/webhook-secret/reveal/",
                wrap(self.reveal_webhook_secret_view),
                name="clients_client_reveal_webhook_secret",
            ),
            path(
                "<path:object_id>/webhook-secret/rotate/",
                wrap(self.rotate_webhook_secret_view),
                name="clients_client_rotate_webhook_secret",
            ),
        ]

    def get_urls(self):
        return self.get_extra_urls() + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        obj = self.get_object(request, object_id)
        if obj is not None:
            extra_context["client_object_tools"] = self.get_object_tools(request, obj)
        return super().change_view(request, object_id, form_url, extra_context)

    # --- custom pages -------------------------------------------------------------------

    def _client_or_404(self, request, object_id) -> Client:
        client = self.get_object(request, object_id)
        if client is None:
            raise Http404("No such client")
        if not self.has_view_permission(request, client):
            raise PermissionDenied
        return client

    def _context(self, request, client, title, **extra):
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": client,
            "client": client,
            "title": title,
            "change_url": reverse("admin:clients_client_change", args=[client.pk]),
            **extra,
        }

    @staticmethod
    def _once_token_key(client) -> str:
        return f"clients.generate_api_key.{client.pk}"

    def generate_api_key_view(self, request, object_id):
        client = self._client_or_404(request, object_id)
        if not self.has_generate_key_permission(request):
            raise PermissionDenied
        change_url = reverse("admin:clients_client_change", args=[client.pk])
        if request.method == "POST":
            # A one-time form token: reloading the key page must not make a second key.
            expected = request.session.pop(self._once_token_key(client), None)
            if not expected or not secrets.compare_digest(expected, request.POST.get("once", "")):
                self.message_user(request, "That form was already used; no new key was generated.", messages.WARNING)
                return HttpResponseRedirect(change_url)
            form = ApiKeyGenerateForm(request.POST)
            if form.is_valid():
                api_key, raw_key = api_key_create(
                    client=client, environment=form.cleaned_data["environment"], label=form.cleaned_data["label"]
                )
                self.log_addition(request, api_key, f"Generated {api_key.environment} API key {api_key.masked}")
                response = TemplateResponse(
                    request,
                    "admin/clients/client/api_key_created.html",
                    self._context(
                        request,
                        client,
                        "API key generated",
                        api_key=api_key,
                        raw_key=raw_key,
                        curl=self._curl_example(raw_key),
                    ),
                )
                add_never_cache_headers(response)
                return response
        else:
            form = ApiKeyGenerateForm()
        token = secrets.token_urlsafe(24)
        request.session[self._once_token_key(client)] = token
        return TemplateResponse(
            request,
            "admin/clients/client/api_key_generate.html",
            self._context(request, client, f"Generate API key for {client.code}", form=form, once=token),
        )

    def revoke_api_key_view(self, request, object_id, key_id):
        client = self._client_or_404(request, object_id)
        if not self.has_revoke_key_permission(request):
            raise PermissionDenied
        api_key = ApiKey.objects.filter(pk=key_id, client=client).first()
        if api_key is None:
            raise Http404("No such API key")
        change_url = reverse("admin:clients_client_change", args=[client.pk])
        if request.method == "POST":
            if api_key.status == ApiKey.Status.REVOKED:
                self.message_user(request, f"{api_key.masked} was already revoked.", messages.INFO)
            else:
                api_key_revoke(api_key=api_key)
                self.log_change(request, api_key, f"Revoked API key {api_key.masked}")
                self.message_user(request, f"Revoked {api_key.masked}. It stops working immediately.", messages.SUCCESS)
            return HttpResponseRedirect(change_url)
        return TemplateResponse(
            request,
            "admin/clients/client/api_key_revoke.html",
            self._context(request, client, f"Revoke API key {api_key.masked}", api_key=api_key),
        )

    @staticmethod
    def _curl_example(raw_key: str) -> str:
        body = json.dumps(
            {
                "document_name": "Ahmad bin Abdullah",
                "document_number": "901234-56-7890",
                "webhook_url": "https://example.com/webhooks/kyc",
            }
        )
        return (
            f"curl -s -X POST {settings.PUBLIC_BASE_URL}/api/v1/kyc/sessions \\\n"
            f'  -H "Authorization: Bearer {raw_key}" \\\n'
            '  -H "Content-Type: application/json" \\\n'
            f"  -d '{body}'"
        )

    def reveal_webhook_secret_view(self, request, object_id):
        """Shows a secret that was never shown (e.g. a new client's) once, in full."""
        client = self._client_or_404(request, object_id)
        if not self.has_rotate_secret_permission(request, client):
            raise PermissionDenied
        if request.method == "POST":
            secret = client_reveal_webhook_secret(client=client)
            if secret is None:
                self.message_user(
                    request,
                    "This secret was already shown once. Rotate it if nobody kept it.",
                    messages.WARNING,
                )
                return HttpResponseRedirect(reverse("admin:clients_client_change", args=[client.pk]))
            self.log_change(request, client, "Showed the webhook signing secret (once)")
            response = TemplateResponse(
                request,
                "admin/clients/client/webhook_secret_rotated.html",
                self._context(request, client, "Webhook signing secret", secret=secret, rotated=False),
            )
            add_never_cache_headers(response)
            return response
        return TemplateResponse(
            request,
            "admin/clients/client/webhook_secret_reveal.html",
            self._context(request, client, f"Show the webhook signing secret of {client.code}"),
        )

    def rotate_webhook_secret_view(self, request, object_id):
        client = self._client_or_404(request, object_id)
        if not self.has_rotate_secret_permission(request, client):
            raise PermissionDenied
        if request.method == "POST":
            secret = client_rotate_webhook_secret(client=client)
            self.log_change(request, client, "Rotated webhook signing secret")
            response = TemplateResponse(
                request,
                "admin/clients/client/webhook_secret_rotated.html",
                self._context(
                    request,
                    client,
                    "New webhook signing secret",
                    secret=secret,
                    rotated=True,
                    overlap_until=local_datetime(client.webhook_secret_previous_expires_at),
                ),
            )
            add_never_cache_headers(response)
            return response
        return TemplateResponse(
            request,
            "admin/clients/client/webhook_secret_rotate.html",
            self._context(
                request,
                client,
                f"Rotate webhook signing secret for {client.code}",
                current=_mask_secret(decrypt_secret(client.webhook_secret_encrypted)),
                overlap_hours=int(settings.WEBHOOK_SECRET_OVERLAP.total_seconds() // 3600),
            ),
        )


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("key", "client", "environment", "label", "status", "created_at", "last_used_at")
    list_filter = ("status", "environment")
    search_fields = ("client__code", "client__name", "label", "prefix", "last_four")
    list_select_related = ("client",)
    ordering = ("-created_at",)
    fields = ("key", "client", "environment", "label", "status", "created_at", "revoked_at", "last_used_at")
    readonly_fields = ("key", "client", "environment", "status", "created_at", "revoked_at", "last_used_at")
    actions = ("revoke_selected",)

    @admin.display(description="Key", ordering="prefix")
    def key(self, obj):
        return obj.masked

    def has_add_permission(self, request):
        # New keys come from a client's "Generate API key" page, which shows them once.
        return False

    def has_delete_permission(self, request, obj=None):
        # Keys are revoked, never deleted: sessions and webhooks refer to them.
        return False

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke_selected(self, request, queryset):
        revoked = 0
        for api_key in queryset.filter(status=ApiKey.Status.ACTIVE):
            api_key_revoke(api_key=api_key)
            self.log_change(request, api_key, f"Revoked API key {api_key.masked}")
            revoked += 1
        self.message_user(request, f"Revoked {revoked} API key(s).", messages.SUCCESS)
