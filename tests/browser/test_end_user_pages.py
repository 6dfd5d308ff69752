"""The end user's pages in a real browser at phone size (390x844): every status
state in English and Bahasa Malaysia, readable with margins and no sideways
scrolling, no serious or critical axe-core violations; the page follows a
session that changes; the language switch and the no-JavaScript fallback work;
the sandbox page's labels and outcome words."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from kyc.models import KycSession
from sandbox.models import SandboxTransaction
from tests.kyc.helpers import make_status_session

from .helpers import axe_violations, save_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

COMPLETED = {"status": "completed", "provider_status": "2"}
STATES = {
    "not_started": ({}, "Your verification has not started yet", "Pengesahan anda belum bermula"),
    "in_progress": (
        {"status": "processing", "provider_status": "1"},
        "Verification in progress",
        "Pengesahan sedang dijalankan",
    ),
    "verified": ({**COMPLETED, "result": "approved"}, "Identity verified", "Identiti disahkan"),
    "not_verified": ({**COMPLETED, "result": "rejected"}, "Identity not verified", "Identiti tidak disahkan"),
    "expired": ({"status": "expired"}, "Verification link expired", "Pautan pengesahan telah tamat tempoh"),
}
LOCALES = {"en": "en-US", "ms": "ms-MY"}


@pytest.fixture
def make_session(acme, acme_key):
    return lambda **fields: make_status_session(acme, acme_key[0], **fields)


def assert_readable_on_a_phone(page, box="main"):
    sizes = page.evaluate(
        "(box) => { const m = document.querySelector(box).getBoundingClientRect();"
        " return {scroll: document.documentElement.scrollWidth, width: window.innerWidth,"
        " left: m.left, right: m.right}; }",
        box,
    )
    assert sizes["scroll"] <= sizes["width"] == 390, sizes  # nothing runs off the side
    assert sizes["left"] >= 12 and sizes["right"] <= 390 - 12, sizes  # a margin on both sides


def assert_accessible(page):
    assert axe_violations(page) == []


@pytest.mark.parametrize("lang", LOCALES)
@pytest.mark.parametrize("state", STATES)
def test_status_page_state(live_server, new_page, make_session, state, lang):
    fields, english, malay = STATES[state]
    session = make_session(**fields)
    page = new_page(locale=LOCALES[lang])
    response = page.goto(f"{live_server.url}/r/{session.id}")
    assert response.status == 200
    assert page.locator("html").get_attribute("lang") == lang
    expect(page.locator("h1")).to_have_text(english if lang == "en" else malay)
    region = page.get_by_role("status")
    expect(region).to_have_attribute("aria-live", "polite")
    expect(region.locator("h1")).to_be_visible()
    expect(page.locator("p.brand")).to_have_text("Acme Lending")
    continue_name = "Continue verification" if lang == "en" else "Teruskan pengesahan"
    button = page.get_by_role("link", name=continue_name)
    if state == "not_started":
        expect(button).to_have_attribute("href", session.onboarding_url)
        expect(button).to_be_visible()
    else:
        expect(button).to_have_count(0)
    checking = "This page checks for updates by itself." if lang == "en" else "Halaman ini menyemak kemas kini"
    expect(page.get_by_text(checking)).to_have_count(1 if state in ("not_started", "in_progress") else 0)
    assert_readable_on_a_phone(page)
    assert_accessible(page)
    save_screenshot(page, f"status-{state}-{lang}")


@pytest.mark.parametrize("lang", LOCALES)
def test_unknown_session_is_a_branded_404(live_server, new_page, lang):
    page = new_page(locale=LOCALES[lang])
    response = page.goto(f"{live_server.url}/r/{uuid.uuid4()}")
    assert response.status == 404
    expect(page.locator("h1")).to_have_text("Page not found" if lang == "en" else "Halaman tidak ditemui")
    expect(page.get_by_text("TrueStack", exact=False).first).to_be_visible()
    assert_readable_on_a_phone(page)
    assert_accessible(page)
    save_screenshot(page, f"status-unknown-{lang}")


def test_favicon_loads(live_server, page, make_session):
    page.goto(f"{live_server.url}/r/{make_session().id}")
    icon = page.request.get(live_server.url + page.locator("link[rel=icon]").get_attribute("href"))
    assert icon.status == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    ico = page.request.get(f"{live_server.url}/favicon.ico")
    assert ico.status == 200 and b"<svg" in ico.body()


def test_language_switch_without_javascript(live_server, new_page, make_session):
    page = new_page(javascript=False)
    session = make_session()
    page.goto(f"{live_server.url}/r/{session.id}")
    page.get_by_role("link", name="Bahasa Malaysia").click()
    expect(page.locator("h1")).to_have_text("Pengesahan anda belum bermula")
    # Remembered for the next visit.
    page.goto(f"{live_server.url}/r/{session.id}")
    expect(page.get_by_role("link", name="Teruskan pengesahan")).to_be_visible()
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("link", name="Continue verification")).to_be_visible()


def test_without_javascript_checking_stops_with_check_again(live_server, new_page, make_session):
    page = new_page(javascript=False)
    session = make_session(status="processing", provider_status="1")
    page.goto(f"{live_server.url}/r/{session.id}?check=6")
    again = page.get_by_role("link", name="Check again")
    expect(again).to_be_visible()
    again.click()
    expect(page).to_have_url(f"{live_server.url}/r/{session.id}")
    assert page.locator("noscript").count() == 1


def test_page_follows_the_session_and_announces_the_result(live_server, page, make_session):
    session = make_session(status="processing", provider_status="1")
    page.goto(f"{live_server.url}/r/{session.id}")
    expect(page.locator("h1")).to_have_text("Verification in progress")
    KycSession.objects.filter(pk=session.pk).update(status="completed", provider_status="2", result="approved")
    # The first check is 5 seconds after load; the live region's content is replaced.
    expect(page.get_by_role("status").locator("h1")).to_have_text("Identity verified", timeout=15_000)
    expect(page.locator("main")).to_have_attribute("data-state", "verified")
    expect(page.get_by_text("This page checks for updates by itself.")).to_have_count(0)
    assert page.title() == "Identity verified · TrueStack"


def test_logo_at_phone_size(live_server, page, acme, make_session):
    import io

    from django.core.files.base import ContentFile
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (600, 150), (200, 40, 40)).save(buffer, format="PNG")
    acme.display_name = "Acme"
    acme.save(update_fields=["display_name"])
    acme.logo.save("acme.png", ContentFile(buffer.getvalue()))
    page.goto(f"{live_server.url}/r/{make_session(**COMPLETED, result='approved').id}")
    logo = page.get_by_role("img", name="Acme")
    expect(logo).to_be_visible()
    assert page.evaluate("() => document.querySelector('.brand img').naturalWidth") == 600
    box = logo.bounding_box()
    assert box["width"] <= 192 and box["height"] <= 64  # kept within the header
    assert_readable_on_a_phone(page)
    assert_accessible(page)
    save_screenshot(page, "status-logo-en")


def test_unopened_link_past_expiry_reads_expired(live_server, page, make_session):
    session = make_session(expires_at=timezone.now() - timedelta(minutes=5))
    page.goto(f"{live_server.url}/r/{session.id}")
    expect(page.locator("h1")).to_have_text("Verification link expired")
    expect(page.get_by_role("link", name="Continue verification")).to_have_count(0)


# --- the sandbox onboarding page --------------------------------------------------------------


@pytest.fixture
def sandbox_txn(live_server):
    return SandboxTransaction.objects.create(
        provider_ref_id=f"SBX_{uuid.uuid4().hex}",
        ref_id="ACME_browser",
        document_name="Ahmad bin Abdullah",
        document_number="901234567890",
        platform="Web",
        response_url=f"{live_server.url}/healthz",
        callback_mode="0",
        response_mode="0",
        expired_at=timezone.now() + timedelta(hours=1),
    )


def test_sandbox_inputs_are_labelled(live_server, page, sandbox_txn):
    page.goto(f"{live_server.url}/sandbox/innovatif/onboarding/{sandbox_txn.onboarding_id}")
    page.get_by_role("button", name="I agree, continue").click()
    expect(page.get_by_label("Front picture (optional)")).to_have_attribute("type", "file")
    page.get_by_role("button", name="Use this picture").first.click()
    expect(page.get_by_label("Back picture (optional)")).to_have_attribute("type", "file")
    assert page.get_by_label("Reject reason").count() == 1
    assert page.get_by_label("Or type another reason").count() == 1
    assert_readable_on_a_phone(page, ".card.current")
    assert_accessible(page)
    save_screenshot(page, "sandbox-onboarding")


@pytest.mark.parametrize(
    "outcome, words", [("approved", "Approved"), ("rejected", "Rejected"), ("expired", "Not finished")]
)
def test_sandbox_finished_link_shows_outcome_in_words(live_server, page, sandbox_txn, outcome, words):
    status = SandboxTransaction.Status.EXPIRED if outcome == "expired" else SandboxTransaction.Status.COMPLETED
    result = {"approved": "1", "rejected": "0", "expired": "2"}[outcome]
    SandboxTransaction.objects.filter(pk=sandbox_txn.pk).update(status=status, result=result)
    page.goto(f"{live_server.url}/sandbox/innovatif/onboarding/{sandbox_txn.onboarding_id}")
    outcome_row = page.locator("dl[data-outcome]")
    expect(outcome_row).to_have_attribute("data-outcome", outcome)
    expect(outcome_row.locator("strong")).to_have_text(words)
    expect(page.get_by_text("Status 2", exact=False)).to_have_count(0)
    assert_accessible(page)
    save_screenshot(page, f"sandbox-finished-{outcome}")
