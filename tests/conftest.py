"""Browser tests: an admin session in Debian's chromium, driven by Playwright.

Screenshots are saved under build/screenshots/ for a person to look at.
"""

import os
from pathlib import Path

import pytest
from django.db import connections

from conftest import CHROMIUM
from crm import after_response

SHOTS = Path(__file__).resolve().parent.parent / "build/screenshots"


@pytest.fixture
def browser_login(live_server):
    """``login(username, password)`` → a Playwright page signed in to the admin as that user."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # between page actions are still plain synchronous code.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
        )

        def login(username: str, password: str):
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{live_server.url}/admin/login/")
            page.fill("#id_username", username)
            page.fill("#id_password", password)
            page.click("#login-form [type=submit]")
            # Each role lands on its own start page (crm/navigation.py).
            page.wait_for_url(lambda url: url.startswith(f"{live_server.url}/admin/") and "/login/" not in url)
            return page

        yield login
        browser.close()
        # The ORM calls a test makes while Playwright runs get connections of their own
        # (another context); close them, or they outlive the session's test database.
        connections.close_all()


@pytest.fixture
def page(browser_login, admin_user):
    return browser_login("admin", "password")


def field_line(page, label: str):
    """A form row of the admin's change page, found by its label as a person reads it (the
    theme marks read-only fields with no ``field-<name>`` class)."""
    return page.locator(".field-line", has=page.get_by_text(label, exact=True))


def message(page, text: str):
    """The admin's message (after a save or an action) that says ``text``."""
    return page.locator("li", has_text=text).last


def look(control) -> dict:
    """How a form control is drawn, as far as telling the theme's controls from the browser's
    own: border, corners, shadow, text size, and whether the browser draws it natively."""
    return control.evaluate(
        """e => { const s = getComputedStyle(e); return {
            border: `${s.borderTopWidth} ${s.borderTopStyle} ${s.borderTopColor}`,
            radius: s.borderTopLeftRadius, shadow: s.boxShadow, size: s.fontSize, appearance: s.appearance}; }"""
    )


@pytest.fixture
def deferred_work_within_the_request(monkeypatch):
    """The work a request defers until its response is sent (crm.after_response) runs before
    the response instead, for tests that call the API of a live server back to back. Else it
    is still writing when the next request comes (the in-memory SQLite database the server's
    threads share answers "table is locked" at once, without waiting: a 503) or when the test
    ends (PostgreSQL's flush of the test database deadlocks with it)."""
    middleware = after_response.AfterResponseMiddleware
    original = middleware.__call__

    def run_deferred_work_first(self, request):
        response = original(self, request)
        after_response._run_pending()
        return response

    monkeypatch.setattr(middleware, "__call__", run_deferred_work_first)
