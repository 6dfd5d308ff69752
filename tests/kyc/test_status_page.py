"""The end user's status page /r/<id>: states in words, the client's name and
logo, English and Bahasa Malaysia, back-off checking that stops, branded 404/500
and the favicon (browser-level checks: tests/browser/test_end_user_pages.py)."""

import io
import re
import uuid
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client as BrowserClient
from django.test import RequestFactory
from django.utils import timezone
from PIL import Image

from truestack.views import handler500

from .helpers import make_status_session

pytestmark = pytest.mark.django_db

COMPLETED = {"status": "completed", "provider_status": "2"}


@pytest.fixture
def make_session(acme, acme_key):
    return lambda **fields: make_status_session(acme, acme_key[0], **fields)


def page(client, session, **headers):
    response = client.get(f"/r/{session.id}", **headers)
    assert response.status_code == 200
    return response, response.content.decode()


def state_of(html: str) -> tuple[str, str]:
    match = re.search(r'data-state="(\w+)" data-progress="(\w+)"', html)
    assert match, html
    return match.group(1), match.group(2)


@pytest.mark.parametrize("provider_status", ["", "0"])
def test_unopened_session_is_not_started_with_a_way_back(client, make_session, provider_status):
    session = make_session(provider_status=provider_status)
    response, html = page(client, session)
    assert state_of(html) == ("in_progress", "not_started")
    assert "Your verification has not started yet" in html
    assert "Acme Lending has asked TrueStack to verify your identity." in html
    assert f'<a class="button" href="{session.onboarding_url}">Continue verification</a>' in html
    assert "We are checking your documents" not in html
    assert 'role="status" aria-live="polite"' in html
    assert "This page checks for updates by itself." in html
    assert '<noscript><meta http-equiv="refresh" content="5;url=?check=1"></noscript>' in html
    assert response["Cache-Control"] == "no-store"


def test_opened_session_is_in_progress_without_button(client, make_session):
    _, html = page(client, make_session(status="processing", provider_status="1"))
    assert state_of(html) == ("in_progress", "started")
    assert "Verification in progress" in html and "We are checking your documents" in html
    assert "Continue verification" not in html


def test_unopened_session_past_its_expiry_is_expired_without_button(client, make_session):
    _, html = page(client, make_session(expires_at=timezone.now() - timedelta(minutes=1)))
    assert state_of(html) == ("expired", "done")
    assert "Continue verification" not in html and "<script" not in html


@pytest.mark.parametrize(
    "fields, state, title, words",
    [
        ({**COMPLETED, "result": "approved"}, "verified", "Identity verified", "You may now return to Acme Lending."),
        (
            {**COMPLETED, "result": "rejected"},
            "not_verified",
            "Identity not verified",
            "Please return to Acme Lending for the next steps.",
        ),
        ({"status": "expired"}, "expired", "Verification link expired", "Please start again from Acme Lending."),
        ({"status": "failed"}, "expired", "Verification could not be started", "Please start again from Acme Lending."),
    ],
)
def test_final_states_in_words_and_still(client, make_session, fields, state, title, words):
    _, html = page(client, make_session(**fields))
    assert state_of(html) == (state, "done")
    assert f"<h1>{title}</h1>" in html and words in html
    assert "<script" not in html and "http-equiv" not in html and "Continue verification" not in html
    assert "Ahmad" not in html and "901234" not in html


def test_noscript_checking_backs_off_then_stops_with_check_again(client, make_session):
    session = make_session()
    html = client.get(f"/r/{session.id}?check=2").content.decode()
    assert 'content="20;url=?check=3"' in html
    assert '<p class="muted" id="check-again" hidden>' in html
    html = client.get(f"/r/{session.id}?check=6").content.decode()
    assert "http-equiv" not in html and "<script" not in html
    assert '<p class="muted" id="check-again">' in html
    assert f'<a href="/r/{session.id}">Check again</a>' in html
    assert '<p class="muted" id="auto-note" hidden>' in html
    for odd in ("99999999999", "-3", "x"):
        assert client.get(f"/r/{session.id}?check={odd}").status_code == 200


def test_script_backs_off_and_stops_after_ten_minutes(client, make_session):
    _, html = page(client, make_session())
    assert "var delay = 5000, waited = 0, limit = 600000;" in html
    assert "delay = Math.min(delay * 2, 120000);" in html


def test_malay_from_the_browser(client, make_session):
    response, html = page(client, make_session(**COMPLETED, result="approved"), HTTP_ACCEPT_LANGUAGE="ms-MY,ms;q=0.9")
    assert '<html lang="ms">' in html
    assert "<h1>Identiti disahkan</h1>" in html
    assert "Anda boleh kembali ke Acme Lending sekarang." in html
    assert "Pengesahan identiti oleh TrueStack" in html
    assert response["Content-Language"] == "ms"


def test_language_switch_is_remembered_without_javascript(client, make_session):
    session = make_session()
    _, html = page(client, session)
    assert '<a href="?lang=ms" lang="ms" hreflang="ms">Bahasa Malaysia</a>' in html
    assert '<a href="?lang=en" lang="en" hreflang="en" aria-current="true">English</a>' in html
    response = client.get(f"/r/{session.id}?lang=ms")
    assert "Teruskan pengesahan" in response.content.decode()
    assert response.cookies["django_language"].value == "ms"
    # The cookie keeps it, even against the browser's preference.
    assert "Teruskan pengesahan" in client.get(f"/r/{session.id}", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Continue verification" in client.get(f"/r/{session.id}?lang=en").content.decode()
    assert "Continue verification" in client.get(f"/r/{session.id}").content.decode()


def test_unknown_language_is_ignored(client, make_session):
    response = client.get(f"/r/{make_session().id}?lang=xx")
    assert "Continue verification" in response.content.decode() and "django_language" not in response.cookies


def test_display_name_is_preferred(client, acme, make_session):
    acme.display_name = "Acme"
    acme.save(update_fields=["display_name"])
    _, html = page(client, make_session(**COMPLETED, result="approved"))
    assert '<p class="brand">Acme</p>' in html and "return to Acme." in html and "Acme Lending" not in html


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (120, 40), (31, 79, 143)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_logo_is_shown_and_served(client, acme, make_session):
    session = make_session()
    assert client.get(f"/r/{session.id}/logo").status_code == 404
    acme.logo.save("acme.png", ContentFile(_png()))
    _, html = page(client, session)
    assert f'<img src="/r/{session.id}/logo" alt="Acme Lending">' in html
    response = client.get(f"/r/{session.id}/logo")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == _png()
    assert client.get(f"/r/{uuid.uuid4()}/logo").status_code == 404


def test_status_page_is_one_query(client, make_session, django_assert_num_queries):
    session = make_session()
    with django_assert_num_queries(1):
        assert client.get(f"/r/{session.id}").status_code == 200


def test_unknown_session_gets_the_branded_404_in_both_languages(client):
    for path in (f"/r/{uuid.uuid4()}", "/r/not-a-uuid", "/no/such/page"):
        response = client.get(path)
        html = response.content.decode()
        assert response.status_code == 404 and response["Content-Type"].startswith("text/html")
        assert "<h1>Page not found</h1>" in html and 'rel="icon" href="/static/favicon.svg"' in html
    html = client.get(f"/r/{uuid.uuid4()}", HTTP_ACCEPT_LANGUAGE="ms").content.decode()
    assert "<h1>Halaman tidak ditemui</h1>" in html


def test_api_paths_keep_answering_json(api):
    for path in ("/api/nothing-here", f"/api/v1/kyc/sessions/{uuid.uuid4()}"):
        response = api.get(path, HTTP_ACCEPT_LANGUAGE="ms")
        assert response.status_code == 404 and response["Content-Type"] == "application/json"
        assert response.json()["error"] == "NOT_FOUND"
        assert "Content-Language" not in response


def test_branded_500_for_pages_and_json_for_the_api():
    request = RequestFactory().get("/r/whatever")
    response = handler500(request)
    assert response.status_code == 500 and b"<h1>Something went wrong</h1>" in response.content
    response = handler500(RequestFactory().get("/api/v1/kyc/sessions"))
    assert response.status_code == 500 and response["Content-Type"] == "application/json"


def test_favicon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response["Location"] == "/static/favicon.svg"
    icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200 and b"<svg" in b"".join(icon.streaming_content)


def test_admin_stays_english(admin_client):
    html = admin_client.get("/admin/", HTTP_ACCEPT_LANGUAGE="ms").content.decode()
    assert '<html lang="en-us"' in html


def test_staff_set_display_name_and_logo_on_the_client_page(admin_client, acme):
    html = admin_client.get(f"/admin/clients/client/{acme.pk}/change/").content.decode()
    assert 'enctype="multipart/form-data"' in html
    assert 'name="display_name"' in html and 'type="file" name="logo"' in html


def _change_form_data(response) -> dict:
    """Everything the admin change form would post back unchanged."""
    data = {}
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        forms += [management, *inline.formset.forms]
    for form in forms:
        for name, field in form.fields.items():
            value = form[name].value()
            if value is None or getattr(field.widget, "input_type", "") == "file":
                continue
            data[form.add_prefix(name)] = value
    return data


def test_staff_upload_a_logo_and_svg_is_refused(admin_client, acme, make_session):
    url = f"/admin/clients/client/{acme.pk}/change/"
    data = _change_form_data(admin_client.get(url))
    svg = SimpleUploadedFile("logo.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", content_type="image/svg+xml")
    refused = admin_client.post(url, {**data, "display_name": "Acme", "logo": svg})
    assert refused.status_code == 200 and refused.context["adminform"].form.errors["logo"]
    png = SimpleUploadedFile("logo.png", _png(), content_type="image/png")
    assert admin_client.post(url, {**data, "display_name": "Acme", "logo": png}).status_code == 302
    acme.refresh_from_db()
    assert acme.display_name == "Acme" and acme.logo.name.endswith(".png")
    response = BrowserClient().get(f"/r/{make_session().id}/logo")
    assert response.status_code == 200 and b"".join(response.streaming_content) == _png()
