"""Playwright for Python driving Debian's Chromium (/usr/bin/chromium, launched
by path; no browser is ever downloaded) against pytest-django's live server.
Tests here are marked `browser` and are skipped when Chromium is absent
(tests/conftest.py). Set BROWSER_SCREENSHOTS_DIR to keep a 1280×800 screenshot
of each page visited."""

import os
import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "browser-test-pass-1"


@pytest.fixture(scope="session")
def chromium():
    # The sync API keeps an event loop in this thread; the ORM calls the tests make
    # between browser steps are still synchronous, plain Django.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


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
