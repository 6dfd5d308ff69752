"""Browser tests: Playwright driving Debian's Chromium (/usr/bin/chromium, launched
by path; never `playwright install`). Skipped, with the reason, when it is absent."""

import os
import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}


def pytest_collection_modifyitems(config, items):
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason=f"needs Chromium at {CHROMIUM} (Debian package `chromium`; .ci/run installs it)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's own ORM
    # calls are still synchronous, so Django's async guard must not refuse them.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser):
    """new_page(viewport=PHONE, locale="en-US", javascript=True) -> a Page in a fresh context."""
    contexts = []

    def _new(*, viewport: dict = PHONE, locale: str = "en-US", javascript: bool = True):
        context = browser.new_context(viewport=viewport, locale=locale, java_script_enabled=javascript)
        contexts.append(context)
        return context.new_page()

    yield _new
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    """A phone-sized (390x844) page in English."""
    return new_page()


PASSWORD = "browser-test-pass-1"


@pytest.fixture(scope="session")
def chromium(browser):
    """The one Chromium of the session (one Playwright sync driver per process)."""
    return browser


class Portal:
    """A logged-in (or not) browser tab on the live server."""

    def __init__(self, page, base_url: str):
        self.page = page
        self.base = base_url
        self.shots = os.environ.get("BROWSER_SCREENSHOTS_DIR")

    def go(self, path: str):
        response = self.page.goto(self.base + path)
        self.shot()
        return response

    def shot(self, name: str | None = None):
        if not self.shots:
            return
        Path(self.shots).mkdir(parents=True, exist_ok=True)
        slug = name or re.sub(r"[^a-z0-9]+", "-", self.page.url.split("/admin/", 1)[-1].lower()).strip("-") or "index"
        self.page.screenshot(path=str(Path(self.shots) / f"{slug[:80]}.png"), full_page=True)

    def login(self, username: str, password: str = PASSWORD):
        self.go("/admin/login/?next=/admin/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", password)
        self.page.click("input[type=submit]")
        self.page.wait_for_url(self.base + "/admin/")
        self.shot("dashboard")


@pytest.fixture
def portal(chromium, live_server):
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield Portal(page, live_server.url)
    context.close()


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser("root", "root@truestack.example", PASSWORD)


@pytest.fixture
def logged_in(portal, superuser):
    portal.login("root")
    return portal
