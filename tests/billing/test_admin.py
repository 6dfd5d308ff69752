import re
import uuid

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing import admin as billing_admin
from billing import services
from billing.models import LedgerEntry, PricingTier
from tests.billing import admin_urls

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(django_user_model):
    def _make(role):
        user = django_user_model.objects.create_user(f"{role}-user", password="pw", is_staff=True)
        user.groups.add(Group.objects.get(name=role))
        return user

    return _make


@pytest.fixture
def finance(client, staff):
    user = staff("finance")
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def ops(client, staff):
    client.user = staff("ops")
    client.force_login(client.user)
    return client


# --- billing model admins on the real admin site --------------------------------


def test_ledger_is_read_only_and_append_only(finance, funded, make_session):
    acme = funded(500, code="ACME")
    services.session_charge(session=make_session(acme))
    response = finance.get(reverse("admin:billing_ledgerentry_changelist"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "ACME" in body and "-50" in body and "450" in body
    assert finance.get(reverse("admin:billing_ledgerentry_add")).status_code == 403
    entry = LedgerEntry.objects.filter(client=acme).first()
    change = finance.get(reverse("admin:billing_ledgerentry_change", args=[entry.pk]))
    assert change.status_code == 200 and 'name="amount"' not in change.content.decode()
    post = finance.post(reverse("admin:billing_ledgerentry_change", args=[entry.pk]), {"amount": 1})
    assert post.status_code == 403
    delete = finance.post(reverse("admin:billing_ledgerentry_delete", args=[entry.pk]), {"post": "yes"})
    assert delete.status_code == 403
    entry.refresh_from_db()
    assert entry.amount == -50
    filtered = finance.get(reverse("admin:billing_ledgerentry_changelist"), {"kind__exact": "topup"})
    assert filtered.status_code == 200 and "-50" not in filtered.content.decode()


def test_accounts_and_holds_pages(finance, funded, make_session, tiers):
    acme = funded(500, code="ACME")
    tiers(acme, ("Flat", 1, None, 40))
    services.hold_place(session=make_session(acme))
    services.session_charge(session=make_session(acme))
    accounts = finance.get(reverse("admin:billing_creditaccount_changelist"))
    assert accounts.status_code == 200
    cells = re.findall(r'<td class="field-(\w+)[^"]*">([^<]*)<', accounts.content.decode())
    assert dict(cells)["balance"] == "460"
    assert dict(cells)["held"] == "40"
    assert dict(cells)["available_display"] == "420"
    assert dict(cells)["mtd_sessions_display"] == "1"
    assert dict(cells)["mtd_credits_display"] == "40"
    holds = finance.get(reverse("admin:billing_hold_changelist"))
    assert holds.status_code == 200 and "Open" in holds.content.decode()
    assert finance.get(reverse("admin:billing_hold_add")).status_code == 403
    assert finance.get(reverse("admin:billing_creditaccount_add")).status_code == 403


def test_ops_can_view_the_ledger_but_not_tiers(ops, funded):
    funded(100, code="ACME")
    assert ops.get(reverse("admin:billing_ledgerentry_changelist")).status_code == 200
    assert ops.get(reverse("admin:billing_pricingtier_changelist")).status_code == 403


def test_pricing_tier_admin_refuses_overlaps(finance, make_client, tiers):
    acme = make_client(code="ACME")
    tiers(acme, ("Starter", 1, 10, 50))
    url = reverse("admin:billing_pricingtier_add")
    overlapping = {"client": acme.pk, "name": "Bulk", "min_volume": 10, "max_volume": "", "credits_per_session": 30}
    response = finance.post(url, overlapping)
    assert response.status_code == 200 and "overlap" in response.content.decode()
    inverted = {**overlapping, "min_volume": 20, "max_volume": 15}
    assert "below the first" in finance.post(url, inverted).content.decode()
    ok = finance.post(url, {**overlapping, "min_volume": 11})
    assert ok.status_code == 302
    assert services.price_for_ordinal(client=acme, ordinal=11) == (30, "Bulk")


# --- pieces for the Client page -------------------------------------------------


pytestmark_urls = pytest.mark.urls("tests.billing.admin_urls")


@pytestmark_urls
def test_client_page_shows_tiers_and_the_latest_50_entries(finance, funded):
    acme = funded(1, code="ACME")
    for _ in range(59):
        services.credit_add(client=acme, credits=1)
    PricingTier.objects.create(client=acme, name="Starter", min_volume=1, max_volume=None, credits_per_session=45)
    response = finance.get(reverse("admin:clients_client_change", args=[acme.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Starter" in body
    ledger_rows = re.findall(r'<td class="field-balance_after">\s*<p>(\d+)</p>', body)
    assert ledger_rows == [str(n) for n in range(60, 10, -1)]


def test_pricing_tier_inline_checks_permissions_and_overlaps(staff, make_client, tiers):
    acme = make_client(code="ACME")
    tiers(acme, ("Starter", 1, 5, 50))
    inline = billing_admin.PricingTierInline(type(acme), admin_urls.site)
    request = RequestFactory().get("/")
    request.user = staff("ops")
    assert not inline.has_view_permission(request, acme)
    assert not inline.has_add_permission(request, acme)
    request.user = staff("finance")
    assert inline.has_view_permission(request, acme) and inline.has_change_permission(request, acme)
    assert inline.has_add_permission(request, acme) and inline.has_delete_permission(request, acme)

    formset_class = inline.get_formset(request, acme)
    existing = PricingTier.objects.get(client=acme)
    prefix = formset_class.get_default_prefix()

    def data(rows):
        out = {
            f"{prefix}-TOTAL_FORMS": len(rows),
            f"{prefix}-INITIAL_FORMS": 1,
            f"{prefix}-MIN_NUM_FORMS": 0,
            f"{prefix}-MAX_NUM_FORMS": 1000,
        }
        for i, row in enumerate(rows):
            for key, value in row.items():
                out[f"{prefix}-{i}-{key}"] = value
            out[f"{prefix}-{i}-client"] = acme.pk
        return out

    first = {"id": existing.pk, "name": "Starter", "min_volume": 1, "max_volume": 5, "credits_per_session": 50}
    overlapping = {"name": "Bulk", "min_volume": 5, "max_volume": "", "credits_per_session": 30}
    formset = formset_class(data([first, overlapping]), instance=acme, prefix=prefix)
    assert not formset.is_valid()
    assert "overlap" in str(formset.non_form_errors())
    formset = formset_class(data([first, {**overlapping, "min_volume": 6}]), instance=acme, prefix=prefix)
    assert formset.is_valid(), formset.errors
    formset.save()
    assert services.hold_amount_for(client=acme) == 50
    assert services.price_for_ordinal(client=acme, ordinal=6) == (30, "Bulk")


@pytestmark_urls
def test_topup_view_credits_once_and_redirects(finance, make_client):
    acme = make_client(code="ACME")
    url = reverse("admin:clients_client_topup", args=[acme.pk])
    request = RequestFactory().get("/")
    request.user = finance.user
    assert billing_admin.topup_object_tool(request, acme) == (url, "Add credits")
    page = finance.get(url)
    assert page.status_code == 200
    token = re.search(r'name="token" value="(\w+)"', page.content.decode()).group(1)
    form = {"credits": 1000, "kind": "topup", "description": "INV-42", "token": token}
    response = finance.post(url, form)
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:clients_client_change", args=[acme.pk])
    entry = LedgerEntry.objects.get(client=acme)
    assert (entry.amount, entry.kind, entry.description, entry.created_by) == (1000, "topup", "INV-42", finance.user)
    # The same form submitted again adds nothing.
    assert finance.post(url, form).status_code == 302
    assert LedgerEntry.objects.filter(client=acme).count() == 1
    assert services.ledger_check() == []


@pytestmark_urls
def test_topup_view_shows_refusals(finance, funded):
    acme = funded(100, code="ACME")
    url = reverse("admin:clients_client_topup", args=[acme.pk])
    # Tokens are one-time and the cache may outlive the test (Redis): fresh ones.
    t1, t2, t3 = (uuid.uuid4().hex for _ in range(3))
    no_reason = finance.post(url, {"credits": -10, "kind": "adjustment", "description": "", "token": t1})
    assert no_reason.status_code == 200 and "adjustment needs a description" in no_reason.content.decode()
    negative = finance.post(url, {"credits": -10, "kind": "topup", "description": "x", "token": t2})
    assert negative.status_code == 200 and "must be a positive number" in negative.content.decode()
    too_much = finance.post(url, {"credits": -101, "kind": "adjustment", "description": "claw back", "token": t3})
    assert too_much.status_code == 200 and "Adjustment refused" in too_much.content.decode()
    assert LedgerEntry.objects.filter(client=acme).count() == 1
    # A refused form can be corrected and sent again with the same token.
    fixed = finance.post(url, {"credits": -100, "kind": "adjustment", "description": "claw back", "token": t3})
    assert fixed.status_code == 302
    assert services.ledger_check() == []


@pytestmark_urls
def test_topup_view_needs_the_add_ledgerentry_permission(ops, make_client):
    acme = make_client(code="ACME")
    url = reverse("admin:clients_client_topup", args=[acme.pk])
    request = RequestFactory().get("/")
    request.user = ops.user
    assert billing_admin.topup_object_tool(request, acme) is None
    assert ops.get(url).status_code == 403
    assert ops.post(url, {"credits": 5, "kind": "topup", "token": uuid.uuid4().hex}).status_code == 403
    assert not LedgerEntry.objects.exists()


@pytestmark_urls
def test_client_list_balance_columns_cost_no_query_per_client(finance, funded, make_session):
    url = reverse("admin:clients_client_changelist")
    first = funded(300, code="AAA")
    services.session_charge(session=make_session(first))
    with CaptureQueriesContext(connection) as one:
        response = finance.get(url)
    body = response.content.decode()
    assert "250" in body and "1 sessions / 50 credits" in body
    for n in range(5):
        client = funded(100 + n, code=f"B{n}")
        services.session_charge(session=make_session(client))
    with CaptureQueriesContext(connection) as six:
        response = finance.get(url)
    assert response.content.decode().count("1 sessions / 50 credits") == 6
    assert len(six.captured_queries) == len(one.captured_queries)


def test_balance_columns_work_without_annotations(funded, make_session):
    acme = funded(300, code="ACME")
    services.session_charge(session=make_session(acme))
    assert billing_admin.balance_display(acme) == 250
    assert billing_admin.mtd_usage_display(acme) == "1 sessions / 50 credits"
    annotated = billing_admin.annotate_clients(type(acme).objects.filter(pk=acme.pk)).get()
    assert (annotated.billing_balance, annotated.billing_held) == (250, 0)
    assert (annotated.billing_mtd_sessions, annotated.billing_mtd_credits) == (1, 50)
