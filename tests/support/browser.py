"""Helpers for the tests that drive the real web app in Chromium (those marked ``@pytest.mark.browser``).

Serve the app, open Chromium, get a fresh Danish page at desktop and at phone size, log in through the
real form, and check what a person would: no serious axe findings, nothing wider than the phone, and a
screenshot in /tmp/vaern-shots/ to look at. Playwright, axe and werkzeug are imported only when used.
"""
from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator
from pathlib import Path

from tests.support.environment import CHROMIUM
from tests.support.factories import PASSWORD

SHOTS = Path("/tmp/vaern-shots")  #: screenshots for a person to look at
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}
#: the login form's labels and button, by language
LOGIN_TEXTS = {"da": ("E-mail", "Adgangskode", "Log ind"), "en": ("E-mail", "Password", "Log in")}


@contextlib.contextmanager
def served(app) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 at a free port in a thread; yield its base URL; shut it down afterwards."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def open_browser():
    """Headless Debian Chromium through Playwright (closed afterwards); the screenshot folder exists."""
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser, *, timeout_ms: int = 15_000, **context_options):
    """A page in a fresh context set to da-DK and Copenhagen time; close it with ``page.context.close()``."""
    ctx = browser.new_context(locale="da-DK", timezone_id="Europe/Copenhagen", **context_options)
    page = ctx.new_page()
    page.set_default_timeout(timeout_ms)
    return page


def each_viewport(browser) -> Iterator[tuple[str, object]]:
    """Yield ("desktop", page) at 1280×900, then ("phone", page) at 390×844 with touch and 2× pixels.

    Each page has its own fresh context, closed when the loop moves on.
    """
    for name, options in VIEWPORTS.items():
        page = new_page(browser, **options)
        try:
            yield name, page
        finally:
            page.context.close()


def log_in(page, base: str, email: str, *, password: str = PASSWORD, lang: str | None = None) -> None:
    """Log in through the real form (by its labels) and land on the start page.

    ``lang="en"`` opens ``/login?lang=en`` and uses the English labels; otherwise the Danish default.
    """
    from playwright.sync_api import expect

    email_label, password_label, button = LOGIN_TEXTS[lang or "da"]
    page.goto(f"{base}/login" + (f"?lang={lang}" if lang else ""))
    page.get_by_label(email_label).fill(email)
    page.get_by_label(password_label).fill(password)
    page.get_by_role("button", name=button).click()
    expect(page).to_have_url(f"{base}/")


@functools.cache
def _axe():
    """One axe-core runner for the whole test session (it only holds axe's script)."""
    from axe_playwright_python.sync_playwright import Axe

    return Axe()


def assert_no_serious_axe_findings(page, what: str) -> None:
    """Run axe on the page; fail with axe's report, prefixed by ``what``, on any serious or critical violation."""
    results = _axe().run(page)
    bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, f"{what}: " + results.generate_report()


def assert_fits_the_width(page, what: object = None) -> None:
    """Nothing on the page is wider than the window: no sideways scrolling."""
    wider = page.evaluate("""() => {
        const room = Math.min(window.innerWidth, document.documentElement.clientWidth);
        if (document.documentElement.scrollWidth <= room) return null;
        const clipped = e => { for (let a = e.parentElement; a && a !== document.body; a = a.parentElement)
            if (getComputedStyle(a).overflowX !== 'visible') return true; return false; };
        return [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > room + 0.5 && (!clipped(e) || getComputedStyle(e).position === 'absolute')).slice(-3).map(e => `${e.tagName.toLowerCase()}.${e.className}: ${Math.round(e.getBoundingClientRect().right)} > ${room}`);
    }""")
    assert wider is None, (what, wider)


def screenshot(target, name: str, *, full_page: bool = True) -> None:
    """Save ``SHOTS/<name>.png`` of a page (its whole length unless ``full_page=False``) or of one locator."""
    from playwright.sync_api import Page

    path = str(SHOTS / f"{name}.png")
    if isinstance(target, Page):
        target.screenshot(path=path, full_page=full_page)
    else:
        target.screenshot(path=path)
