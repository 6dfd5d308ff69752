"""A client's page: credits, usage, 12 months, recent sessions and charts in a
pinned number of queries; keys masked once; the key and secret shown once with
Copy; a never-shown secret revealed once."""

import csv
import io

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from billing.services import credit_add
from clients.models import Client
from clients.services import api_key_create, client_webhook_secret
from kyc.models import KycSession
from webhooks.services import endpoint_health_record

pytestmark = pytest.mark.django_db


def _change(browser, client):
    response = browser.get(reverse("admin:clients_client_change", args=[client.pk]))
    assert response.status_code == 200
    return response


def test_summary_shows_credits_usage_months_and_recent_sessions(admin_client, make_full_session, funded_acme):
    approved = make_full_session(name="Siti Nurhaliza")
    make_full_session(result=KycSession.Result.REJECTED)
    make_full_session(status=KycSession.Status.PENDING)  # holds credits
    response = _change(admin_client, funded_acme)
    summary = response.context["summary"]
    account = summary["account"]
    assert account["balance"] == 10_000 - 2 * 50
    assert account["held"] == 50
    assert account["available"] == account["balance"] - 50
    assert account["mtd_sessions"] == 2 and account["mtd_credits"] == 100
    this_month = summary["months"][0]
    assert len(summary["months"]) == 12
    assert (this_month["created"], this_month["approved"], this_month["rejected"]) == (3, 1, 1)
    assert (this_month["billed"], this_month["used"], this_month["added"]) == (2, 100, 10_000)
    page = response.content.decode()
    assert "Siti Nurhaliza" in page
    assert reverse("admin:kyc_kycsession_change", args=[approved.pk]) in page
    assert page.count('class="ts-chart"') == 2


def test_client_page_queries_do_not_grow_with_sessions(admin_client, make_full_session, funded_acme, acme_key):
    make_full_session()
    with CaptureQueriesContext(connection) as first:
        _change(admin_client, funded_acme)
    for _ in range(6):
        make_full_session()
    api_key_create(client=funded_acme, label="another")
    with CaptureQueriesContext(connection) as later:
        _change(admin_client, funded_acme)
    assert len(later) == len(first)


def test_key_rows_show_the_key_once(admin_client, acme):
    api_key, raw = api_key_create(client=acme, label="Backend")
    page = _change(admin_client, acme).content.decode()
    inline = page[page.index('id="api_keys-group"') :]
    inline = inline[: inline.index("</fieldset>")]
    assert inline.count(api_key.masked) == 1
    assert raw not in page


def test_generated_key_page_has_copy_curl_badge_and_acknowledgement(admin_client, acme):
    url = reverse("admin:clients_client_generate_api_key", args=[acme.pk])
    once = admin_client.get(url).context["once"]
    page = admin_client.post(url, {"environment": "test", "label": "", "once": once}).content.decode()
    raw = acme.api_keys.get().masked.split("…")[0]
    assert raw in page
    assert 'data-copy-target="#new-api-key"' in page
    assert "curl -s -X POST" in page and "/api/v1/kyc/sessions" in page
    assert 'id="ts-key-env">TEST' in page
    assert "data-ack-required" in page and "data-ack-leave" in page


def test_rotation_page_shows_the_overlap(admin_client, acme):
    response = admin_client.post(reverse("admin:clients_client_rotate_webhook_secret", args=[acme.pk]))
    page = response.content.decode()
    assert 'data-copy-target="#new-secret"' in page
    assert "keeps working until" in page and "MYT" in page
    later = _change(admin_client, acme).content.decode()
    assert "the previous secret also signs until" in later


def test_a_new_clients_secret_is_shown_once(admin_client, acme, ops):
    secret = client_webhook_secret(client=acme)
    url = reverse("admin:clients_client_reveal_webhook_secret", args=[acme.pk])
    assert url in _change(admin_client, acme).content.decode()
    assert secret not in admin_client.get(url).content.decode()
    shown = admin_client.post(url)
    assert shown.status_code == 200 and secret in shown.content.decode()
    assert "no-store" in shown["Cache-Control"]
    again = admin_client.post(url)
    assert again.status_code == 302 and secret not in again.content.decode()
    assert url not in _change(admin_client, acme).content.decode()
    assert Client.objects.get(pk=acme.pk).webhook_secret_shown_at is not None


def test_finance_cannot_reveal_the_secret(finance, acme):
    url = reverse("admin:clients_client_reveal_webhook_secret", args=[acme.pk])
    assert finance.post(url).status_code == 403


def test_ledger_export_for_a_client(admin_client, funded_acme, make_client):
    other = make_client(code="BETA")
    credit_add(client=other, credits=5, description="=HYPERLINK(evil)")
    page = _change(admin_client, funded_acme).content.decode()
    csv_url = reverse("admin:billing_ledgerentry_export_csv") + f"?client__id__exact={funded_acme.pk}"
    assert csv_url.replace("&", "&amp;") in page or csv_url in page
    response = admin_client.get(csv_url)
    assert response.status_code == 200 and response.streaming
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert [(r["client"], r["kind"], r["amount"]) for r in rows] == [("ACME", "topup", "10000")]
    every = admin_client.get(reverse("admin:billing_ledgerentry_export_csv"))
    text = b"".join(every.streaming_content).decode("utf-8-sig")
    assert "'=HYPERLINK(evil)" in text  # formulas are neutralised


def test_client_page_shows_webhook_endpoint_health(admin_client, funded_acme):
    endpoint_health_record(
        client=funded_acme, url="https://down.acme.example/kyc", ok=False, error="HTTP 500", at=timezone.now()
    )
    page = _change(admin_client, funded_acme).content.decode()
    assert 'id="ts-endpoint-health"' in page
    assert "down.acme.example" in page and "Webhook endpoints (last 24 hours)" in page


def test_billing_profile_is_on_the_client_page_for_finance_only(client, funded_acme, django_user_model):
    finance = django_user_model.objects.create_user("fin-page", password="x", is_staff=True)
    finance.groups.add(Group.objects.get(name="finance"))
    ops = django_user_model.objects.create_user("ops-page", password="x", is_staff=True)
    ops.groups.add(Group.objects.get(name="ops"))
    url = reverse("admin:clients_client_change", args=[funded_acme.pk])
    client.force_login(finance)
    assert "Billing profile" in client.get(url).content.decode()
    client.force_login(ops)
    assert "Billing profile" not in client.get(url).content.decode()
