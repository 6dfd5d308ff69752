"""Browser tests: Playwright driving Debian's Chromium (/usr/bin/chromium, launched
by path; never `playwright install`). Skipped, with the reason, when it is absent."""

import os
from pathlib import Path

import pytest

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
