"""The operator portal in a real browser (Chromium at 1280×800): log in, create a
client, generate a key (shown once, Copy, a reload makes no second key), top up,
the dashboard after a few sessions, the session page with Refresh and Resend,
images hidden without the permission, a CSV export, the secret rotation overlap."""

import csv
import io
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image
from playwright.sync_api import expect
from standardwebhooks.webhooks import Webhook

from billing.services import credit_add
from clients.models import ApiKey, Client
from clients.services import api_key_create, client_create, client_webhook_secret
from kyc.models import KycSession
from kyc.services import session_event_record
from tests.portal.conftest import build_session
from tests.webhooks.conftest import Receiver
from webhooks.models import Delivery
from webhooks.services import delivery_attempt

from .conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def acme_funded():
    client = client_create(code="ACME", name="Acme Lending")
    credit_add(client=client, credits=10_000, description="opening balance")
    key, raw = api_key_create(client=client)
    return client, key


def test_create_client_generate_key_once_and_top_up(logged_in):
    page = logged_in.page
    logged_in.go("/admin/clients/client/add/")
    page.fill("#id_code", "NEWCO")
    page.fill("#id_name", "New Co Sdn Bhd")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    client = Client.objects.get(code="NEWCO")

    logged_in.go(f"/admin/clients/client/{client.pk}/change/")
    page.click("text=Generate API key")
    page.select_option("#id_environment", "test")
    page.click("input[type=submit]")
    key_input = page.locator("#new-api-key")
    raw = key_input.input_value()
    assert raw.startswith("ts_test_") and len(raw) == len("ts_test_") + 32
    assert page.locator("#ts-key-env").inner_text() == "TEST"
    assert raw in page.locator("#curl-example").inner_text()
    logged_in.shot("api-key-created")
    page.click("#copy-key")
    # The label changes once the clipboard has the key (a promise): wait for it.
    expect(page.locator("#copy-key")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == raw
    # Leaving needs the acknowledgement first.
    assert page.locator("#ack-leave").get_attribute("aria-disabled") == "true"
    page.check("#ack")
    assert page.locator("#ack-leave").get_attribute("aria-disabled") == "false"
    # A reload re-posts the form: no second key, and the key is not shown again.
    page.reload()
    assert raw not in page.content()
    assert ApiKey.objects.filter(client=client).count() == 1

    logged_in.go(f"/admin/clients/client/{client.pk}/change/")
    page.click("text=Add credits")
    page.fill("#id_credits", "2500")
    page.fill("#id_description", "INV-1001")
    page.click("input[type=submit]")
    page.wait_for_selector(".messagelist .success")
    assert page.locator("#ts-balance").inner_text() == "2500"
    assert page.locator("#ts-available").inner_text() == "2500"
    masked = ApiKey.objects.get(client=client).masked
    assert page.locator("#api_keys-group").inner_text().count(masked) == 1
    logged_in.shot("client-page")


def test_dashboard_figures_after_a_few_sessions(logged_in, acme_funded):
    client, key = acme_funded
    build_session(client=client, api_key=key, name="Siti Nurhaliza")
    build_session(client=client, api_key=key, result=KycSession.Result.REJECTED)
    build_session(client=client, api_key=key, status=KycSession.Status.EXPIRED)
    logged_in.go("/admin/")
    today = logged_in.page.locator("#ts-today")
    figures = dict(
        zip(today.locator(".ts-lbl").all_inner_texts(), today.locator(".ts-num").all_inner_texts(), strict=True)
    )
    assert figures["Created"] == "3" and figures["Approved"] == "1" and figures["Expired"] == "1"
    assert "50% of completed" in today.inner_text()
    assert logged_in.page.locator("svg.ts-chart").count() == 2
    assert logged_in.page.locator("text=View site").count() == 0
    # A figure opens the list behind it.
    today.locator("a:has-text('Rejected')").click()
    logged_in.page.wait_for_selector("#result_list")
    assert logged_in.page.locator("#result_list tbody tr").count() == 1
    logged_in.shot("sessions-rejected-today")


def test_find_by_name_or_ic_then_refresh_and_resend(logged_in, provider, acme_funded):
    client, key = acme_funded
    test_key, raw_test = api_key_create(client=client, environment="test")
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_test}")
    created = api.post(
        "/api/v1/kyc/sessions",
        {
            "document_name": "Nur Aisyah binti Kamal",
            "document_number": "950505-10-1234",
            "webhook_url": "https://receiver.example/k",
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    done = build_session(client=client, api_key=key, name="Lim Mei Ling", number="880808-08-8888")

    page = logged_in.page
    logged_in.go("/admin/kyc/kycsession/")
    page.fill("#searchbar", "950505101234")
    page.press("#searchbar", "Enter")
    page.wait_for_selector("#result_list")
    assert page.locator("#result_list tbody tr").count() == 1
    table_width = page.evaluate("document.querySelector('#result_list').getBoundingClientRect().width")
    area_width = page.evaluate("document.querySelector('#changelist').getBoundingClientRect().width")
    assert table_width <= area_width  # the list fits at 1280 px
    logged_in.shot("session-search")
    page.click("#result_list tbody tr a")
    page.wait_for_selector("#ts-timeline")
    assert "Nur Aisyah binti Kamal" in page.locator(".ts-review-head").inner_text()
    assert page.locator("input[name=_save]").count() == 0
    logged_in.shot("session-review")
    page.click("#ts-refresh")
    page.wait_for_selector(".messagelist")
    assert "Refreshed from the provider" in page.locator(".messagelist").inner_text()

    logged_in.go("/admin/kyc/kycsession/")
    page.fill("#searchbar", "lim mei")
    page.press("#searchbar", "Enter")
    page.click("#result_list tbody tr a")
    timeline = page.locator("#ts-timeline").inner_text()
    assert "Webhook attempt 1" in timeline and "HTTP 500" in timeline and "Webhook attempt 2" in timeline
    logged_in.shot("session-review-completed")
    page.click("#ts-resend")
    page.wait_for_selector(".messagelist")
    assert "queued for immediate resend" in page.locator(".messagelist").inner_text()
    assert Delivery.objects.get(event__session=done).state == Delivery.State.PENDING


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 24), (30, 90, 160)).save(buffer, format="JPEG")
    return buffer.getvalue()


def test_images_hidden_without_the_permission(portal, superuser, acme_funded):
    client, key = acme_funded
    session = build_session(client=client, api_key=key)
    path = f"kyc/{client.pk}/{session.pk}/front_document.jpg"
    default_storage.save(path, ContentFile(_jpeg()))
    KycSession.objects.filter(pk=session.pk).update(front_document=path)
    viewer = User.objects.create_user("vera", password=PASSWORD, is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_kycsession"))

    portal.login("vera")
    portal.go(f"/admin/kyc/kycsession/{session.pk}/change/")
    assert portal.page.locator("#ts-show-images").count() == 0
    assert portal.page.locator("#ts-images-hidden").is_visible()
    assert "900101-01-5555" not in portal.page.content()  # the IC number is masked
    portal.shot("session-review-no-permission")

    portal.page.context.clear_cookies()
    portal.login("root")
    portal.go(f"/admin/kyc/kycsession/{session.pk}/change/")
    assert portal.page.locator("#ts-images img").count() == 0  # not on page load
    portal.page.click("#ts-show-images")
    image = portal.page.locator("#ts-images img")
    image.wait_for()
    portal.page.wait_for_function("document.querySelector('#ts-images img').naturalWidth > 0")
    assert image.evaluate("img => img.naturalWidth") == 40
    portal.shot("session-review-images")
    default_storage.delete(path)


def test_csv_export_downloads_and_parses(logged_in, acme_funded):
    client, key = acme_funded
    for name in ("Siti Nurhaliza", "Ahmad bin Abu", "Tan Ah Kow"):
        build_session(client=client, api_key=key, name=name)
    logged_in.go("/admin/kyc/kycsession/?q=siti")
    with logged_in.page.expect_download() as info:
        logged_in.page.click("a.ts-export")
    download = info.value
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8-sig"))))
    assert [r["end_user_name"] for r in rows] == ["Siti Nurhaliza"]
    assert download.suggested_filename.startswith("kyc-sessions-") and download.suggested_filename.endswith(".csv")


def test_secret_rotation_overlap(logged_in, acme_funded):
    client, key = acme_funded
    old = client_webhook_secret(client=client)
    page = logged_in.page
    logged_in.go(f"/admin/clients/client/{client.pk}/change/")
    page.click("text=Rotate webhook signing secret")
    page.click("input[type=submit]")
    new = page.locator("#new-secret").input_value()
    assert new.startswith("whsec_") and new != old
    assert "keeps working until" in page.locator("#overlap-note").inner_text()
    logged_in.shot("secret-rotated")
    page.click("#copy-secret")
    assert page.evaluate("navigator.clipboard.readText()") == new
    page.check("#ack")
    page.click("#ack-leave")
    page.wait_for_selector("#ts-client-summary")
    assert "the previous secret also signs until" in page.content()

    # A webhook sent now verifies with the old secret and with the new one.
    receiver = Receiver()
    receiver.start()
    try:
        session = build_session(client=client, api_key=key, with_history=False, webhook_url=receiver.url)
        KycSession.objects.filter(pk=session.pk).update(status="completed", result="approved")
        session.refresh_from_db()
        event = session_event_record(session=session, kind="kyc.session.completed")
        delivery_attempt(delivery_id=Delivery.objects.get(event=event).pk)
        [request] = receiver.requests
    finally:
        receiver.stop()
    assert Webhook(old).verify(request.body, request.headers)
    assert Webhook(new).verify(request.body, request.headers)
