"""A headless browser for page tests: Playwright for Python driving Debian's chromium.

The browser is the system one (`/usr/bin/chromium`, or HUB_TEST_CHROMIUM); Playwright never
downloads its own. Without it the browser tests skip on a developer machine and FAIL when
CI=true (scripts/test installs chromium with apt-get when it is missing). Each test gets a
fresh context; `offline_page` is one whose context has no network beyond what the test
routes to loopback servers (`context.set_offline` stays off so loopback works, and every
request to another host is aborted and recorded in `page.foreign_requests`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
]
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})


def chromium_path() -> str | None:
    """The system chromium, or None."""
    configured = os.environ.get("HUB_TEST_CHROMIUM")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    for candidate in ("/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def require_chromium() -> str:
    """The chromium path; skips here, fails under CI=true, when it is missing."""
    path = chromium_path()
    if path is not None:
        return path
    message = "chromium (Debian package `chromium`) is not installed"
    if IN_CI:
        pytest.fail(f"{message}; it is required in CI")
    pytest.skip(f"{message} (this fails under CI=true)")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless chromium for the session (playwright.sync_api.Browser)."""
    executable = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page in a fresh browser context."""
    context = browser.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def offline_page(browser: Any) -> Iterator[Any]:
    """A page that reaches only loopback: any other request is aborted and recorded in
    ``page.foreign_requests`` (a list of URLs), so a test can assert nothing left the
    machine."""
    context = browser.new_context()
    foreign: list[str] = []

    def route(route: Any) -> None:
        url = route.request.url
        host = urlsplit(url).hostname or ""
        if url.startswith(("data:", "blob:", "about:")) or host in LOOPBACK_HOSTS:
            route.continue_()
        else:
            foreign.append(url)
            route.abort()

    context.route("**/*", route)
    try:
        page = context.new_page()
        page.foreign_requests = foreign
        yield page
    finally:
        context.close()
