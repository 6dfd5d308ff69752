"""Operator portal: keys are shown in full exactly once, revoke and rotate work,
and the roles decide who may do what."""

import re

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client as BrowserClient
from django.urls import reverse

from clients.models import ApiKey, Client
from clients.selectors import api_key_get_for_auth
from clients.services import api_key_create, client_webhook_secret

pytestmark = pytest.mark.django_db

RAW_KEY = re.compile(r"ts_(?:live|test)_[A-Za-z0-9_-]{32}")


def _staff(username, role=None):
    user = User.objects.create_user(username, password="pw-for-tests-only", is_staff=True)
    if role:
        user.groups.add(Group.objects.get(name=role))
    browser = BrowserClient()
    browser.force_login(user)
    return browser


@pytest.fixture
def ops():
    return _staff("olivia", "ops")


@pytest.fixture
def finance():
    return _staff("fred", "finance")


def _generate(browser, client, environment="live", label="Backend"):
    url = reverse("admin:clients_client_generate_api_key", args=[client.pk])
    form = browser.get(url)
    assert form.status_code == 200
    once = form.context["once"]
    return browser.post(url, {"environment": environment, "label": label, "once": once})


def test_branding(admin_client):
    response = admin_client.get(reverse("admin:index"))
    assert "TrueStack Admin" in response.content.decode()


def test_client_list_search_and_filter(admin_client, make_client):
    make_client(code="ACME", name="Acme Lending")
    suspended = make_client(code="BETA", name="Beta Credit")
    Client.objects.filter(pk=suspended.pk).update(status=Client.Status.SUSPENDED)
    url = reverse("admin:clients_client_changelist")

    assert {"ACME", "BETA"} <= set(admin_client.get(url).context["cl"].result_list.values_list("code", flat=True))
    found = admin_client.get(url, {"q": "acme"}).context["cl"].result_list
    assert [c.code for c in found] == ["ACME"]
    filtered = admin_client.get(url, {"status__exact": "suspended"}).context["cl"].result_list
    assert [c.code for c in filtered] == ["BETA"]


def test_generated_key_is_shown_once(admin_client, acme):
    response = _generate(admin_client, acme, environment="test", label="Staging")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    shown = RAW_KEY.findall(page)
    assert len(set(shown)) == 1
    raw = shown[0]
    api_key = api_key_get_for_auth(raw_key=raw)
    assert api_key.client == acme
    assert api_key.environment == "test"
    assert api_key.label == "Staging"

    # Nowhere afterwards: not the client page, not the key list, not the key page, not the history.
    for url in (
        reverse("admin:clients_client_change", args=[acme.pk]),
        reverse("admin:clients_apikey_changelist"),
        reverse("admin:clients_apikey_change", args=[api_key.pk]),
        reverse("admin:clients_client_history", args=[acme.pk]),
        reverse("admin:index"),
    ):
        later = admin_client.get(url)
        assert later.status_code == 200, url
        assert raw not in later.content.decode(), url
        assert api_key.masked in later.content.decode() or url.endswith(("/history/", "/admin/")), url
    # Nor in the session or the URL.
    assert raw not in str(dict(admin_client.session))


def test_reposting_the_generate_form_makes_no_second_key(admin_client, acme):
    url = reverse("admin:clients_client_generate_api_key", args=[acme.pk])
    once = admin_client.get(url).context["once"]
    first = admin_client.post(url, {"environment": "live", "label": "", "once": once})
    assert first.status_code == 200
    again = admin_client.post(url, {"environment": "live", "label": "", "once": once})
    assert again.status_code == 302
    assert RAW_KEY.search(again.content.decode()) is None
    assert acme.api_keys.count() == 1


def test_generate_form_rejects_unknown_environment(admin_client, acme):
    url = reverse("admin:clients_client_generate_api_key", args=[acme.pk])
    once = admin_client.get(url).context["once"]
    response = admin_client.post(url, {"environment": "prod", "once": once})
    assert response.status_code == 200
    assert response.context["form"].errors
    assert acme.api_keys.count() == 0


def test_client_page_lists_keys_masked_with_revoke(admin_client, acme):
    api_key, raw = api_key_create(client=acme, label="Backend")
    page = admin_client.get(reverse("admin:clients_client_change", args=[acme.pk])).content.decode()
    assert api_key.masked in page
    assert raw not in page
    assert reverse("admin:clients_client_revoke_api_key", args=[acme.pk, api_key.pk]) in page
    assert reverse("admin:clients_client_generate_api_key", args=[acme.pk]) in page
    assert reverse("admin:clients_client_rotate_webhook_secret", args=[acme.pk]) in page


def test_revoke_confirms_then_revokes(admin_client, acme):
    api_key, _ = api_key_create(client=acme)
    url = reverse("admin:clients_client_revoke_api_key", args=[acme.pk, api_key.pk])
    confirm = admin_client.get(url)
    assert confirm.status_code == 200
    assert ApiKey.objects.get(pk=api_key.pk).status == ApiKey.Status.ACTIVE
    response = admin_client.post(url)
    assert response.status_code == 302
    stored = ApiKey.objects.get(pk=api_key.pk)
    assert stored.status == ApiKey.Status.REVOKED
    assert stored.revoked_at is not None


def test_revoke_refuses_another_clients_key(admin_client, acme, make_client):
    other = make_client(code="OTHER")
    api_key, _ = api_key_create(client=other)
    response = admin_client.post(reverse("admin:clients_client_revoke_api_key", args=[acme.pk, api_key.pk]))
    assert response.status_code == 404
    assert ApiKey.objects.get(pk=api_key.pk).status == ApiKey.Status.ACTIVE


def test_revoke_action_on_key_list(admin_client, acme):
    first, _ = api_key_create(client=acme)
    second, _ = api_key_create(client=acme)
    response = admin_client.post(
        reverse("admin:clients_apikey_changelist"),
        {"action": "revoke_selected", "_selected_action": [str(first.pk)]},
    )
    assert response.status_code == 302
    assert ApiKey.objects.get(pk=first.pk).status == ApiKey.Status.REVOKED
    assert ApiKey.objects.get(pk=second.pk).status == ApiKey.Status.ACTIVE


def test_rotate_webhook_secret_shows_new_secret_once(admin_client, acme):
    old = client_webhook_secret(client=acme)
    url = reverse("admin:clients_client_rotate_webhook_secret", args=[acme.pk])
    confirm = admin_client.get(url).content.decode()
    assert f"whsec_…{old[-4:]}" in confirm
    assert old not in confirm

    response = admin_client.post(url)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    acme.refresh_from_db()
    new = client_webhook_secret(client=acme)
    assert new != old
    assert new in response.content.decode()
    page = admin_client.get(reverse("admin:clients_client_change", args=[acme.pk])).content.decode()
    assert new not in page
    assert f"whsec_…{new[-4:]}" in page


def test_adding_a_client_in_admin_goes_through_the_service(admin_client):
    response = admin_client.post(
        reverse("admin:clients_client_add"),
        {
            "code": "NEWCO",
            "name": "New Co",
            "contact_email": "ops@newco.example",
            "notes": "",
            "api_keys-TOTAL_FORMS": "0",
            "api_keys-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    client = Client.objects.get(code="NEWCO")
    assert client_webhook_secret(client=client).startswith("whsec_")


def test_clients_and_keys_cannot_be_deleted(admin_client, acme):
    api_key, _ = api_key_create(client=acme)
    assert admin_client.get(reverse("admin:clients_client_delete", args=[acme.pk])).status_code == 403
    assert admin_client.get(reverse("admin:clients_apikey_delete", args=[api_key.pk])).status_code == 403


def test_ops_can_generate_and_revoke(ops, acme):
    response = _generate(ops, acme)
    assert response.status_code == 200
    raw = RAW_KEY.search(response.content.decode()).group(0)
    api_key = api_key_get_for_auth(raw_key=raw)
    assert ops.post(reverse("admin:clients_client_revoke_api_key", args=[acme.pk, api_key.pk])).status_code == 302
    assert ApiKey.objects.get(pk=api_key.pk).status == ApiKey.Status.REVOKED


def test_finance_sees_clients_but_cannot_touch_keys(finance, acme):
    api_key, raw = api_key_create(client=acme)
    page = finance.get(reverse("admin:clients_client_change", args=[acme.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert raw not in body
    assert reverse("admin:clients_client_generate_api_key", args=[acme.pk]) not in body
    assert finance.get(reverse("admin:clients_client_generate_api_key", args=[acme.pk])).status_code == 403
    assert finance.post(reverse("admin:clients_client_revoke_api_key", args=[acme.pk, api_key.pk])).status_code == 403
    assert finance.post(reverse("admin:clients_client_rotate_webhook_secret", args=[acme.pk])).status_code == 403
    assert ApiKey.objects.get(pk=api_key.pk).status == ApiKey.Status.ACTIVE


def test_anonymous_is_sent_to_login(client, acme):
    response = client.get(reverse("admin:clients_client_generate_api_key", args=[acme.pk]))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
