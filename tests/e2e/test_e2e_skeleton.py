"""The walking skeleton end to end: the real app, the embedded worker, the demo post, a real browser.

An employee reports the demo post and watches it get secured; the unit's leader sees the case;
the other unit's people get the 404 page. Every page is checked with axe and photographed to
/tmp/vaern-shots/ for a person to look at.
"""
from __future__ import annotations

import contextlib
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.support import browser as shared
from tests.support.browser import PHONE, assert_fits_the_width, assert_no_serious_axe_findings, new_page, open_browser, \
    screenshot, served
from tests.support.factories import make_settings
from tests.support.database import new_runtime
from tracker.adapters.demo import DEMO_PASSWORD, ensure_demo_org, start_demo_site
from tracker.adapters.jobs import start_embedded_consumer
from webui.app import create_app
from webui.timefmt import CPH

pytestmark = pytest.mark.browser

EMPLOYEE, LEADER = "medarbejder@demo.vaern.dk", "leder@demo.vaern.dk"
EMPLOYEE2, LEADER2 = "medarbejder2@demo.vaern.dk", "leder2@demo.vaern.dk"


class Vaern:
    """The app served on 127.0.0.1:<ephemeral> with the embedded huey consumer, the demo org and demo site."""

    def __init__(self, data_dir: Path):
        self.site = start_demo_site()
        self.rt = new_runtime(make_settings(data_dir, capture_allowed_hosts=f"127.0.0.1:{self.site.port}",
                                                      workers=1))
        with self.rt.transaction() as s:
            ensure_demo_org(s)
        app = create_app(runtime=self.rt)
        self.consumer = start_embedded_consumer(self.rt)
        self._served = contextlib.ExitStack()
        self.url = self._served.enter_context(served(app))

    def close(self) -> None:
        self._served.close()
        self.consumer.stop(graceful=True)
        self.rt.close()
        self.site.stop()


@pytest.fixture(scope="module")
def vaern(tmp_path_factory):
    v = Vaern(tmp_path_factory.mktemp("e2e"))
    yield v
    v.close()


@pytest.fixture(scope="module")
def browser():
    with open_browser() as b:
        yield b


def log_in(page, base: str, email: str) -> None:
    shared.log_in(page, base, email, password=DEMO_PASSWORD)


def check_page(page, name: str) -> None:
    """No serious or critical axe violations; a full-page screenshot for a person to look at."""
    screenshot(page, name)
    assert_no_serious_axe_findings(page, name)


def test_an_employee_secures_a_post_the_leader_sees_it_and_the_other_unit_does_not(vaern, browser):
    base = vaern.url

    # -- the employee -----------------------------------------------------------------------------
    page = new_page(browser)
    page.goto(f"{base}/login")
    expect(page.get_by_role("heading", level=1)).to_have_text("Log ind i Værn")
    check_page(page, "01-login")
    log_in(page, base, EMPLOYEE)

    page.goto(f"{base}/report")
    page.get_by_label("Adresse (URL) på opslaget").fill("ftp://ikke-en-webside.dk/opslag")
    page.get_by_role("button", name="Sikr beviset").click()
    expect(page.get_by_text("Adressen skal begynde med http:// eller https://.")).to_be_visible()
    expect(page.get_by_label("Adresse (URL) på opslaget")).to_have_value("ftp://ikke-en-webside.dk/opslag")
    check_page(page, "02-report-with-errors")

    episode = (datetime.now(CPH) - timedelta(days=1)).replace(hour=14, minute=5)
    page.get_by_label("Adresse (URL) på opslaget").fill(vaern.site.post_url)
    page.get_by_label("Hvornår blev det slået op, eller hvornår skete det?").fill(episode.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Hvad skete der? (et par linjer)").fill("Han skriver, at han ved, hvor jeg bor. Æv.")
    page.get_by_role("button", name="Sikr beviset").click()

    expect(page).to_have_url(re.compile(re.escape(base) + r"/cases/V-\d{4}-\d{5}$"))
    ref = page.url.rsplit("/", 1)[1]
    first_state = page.locator(".evidence .state").first.inner_text()
    assert first_state in ("venter", "sikres nu", "sikret")
    expect(page.locator(".evidence .state").first).to_have_text("sikret", timeout=90_000)  # progress.js reloads
    expect(page.get_by_text(episode.strftime("%d.%m.%Y kl. 14.05"), exact=True)).to_be_visible()
    fingerprint = page.locator(".fingerprint code").inner_text()
    assert re.fullmatch(r"[0-9a-f]{64}", fingerprint)
    shot = page.locator("img.shot")
    expect(shot).to_be_visible()
    shot.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=shot.element_handle())
    assert shot.evaluate("img => img.naturalWidth") > 0
    screenshot_url = base + shot.get_attribute("src")
    check_page(page, "03-case-secured")
    page.context.close()

    # -- the unit's leader ------------------------------------------------------------------------
    page = new_page(browser)
    log_in(page, base, LEADER)
    row = page.get_by_role("listitem").filter(has=page.get_by_role("link", name=ref))
    expect(row).to_contain_text("Mette Jensen")
    expect(row).to_contain_text("sikret")
    check_page(page, "04-case-list-leader")
    row.get_by_role("link", name=ref).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Sag {ref}")
    page.context.close()

    # -- the other unit ----------------------------------------------------------------------------
    for who in (LEADER2, EMPLOYEE2):
        page = new_page(browser)
        log_in(page, base, who)
        expect(page.get_by_text(ref)).to_have_count(0)
        for url in (f"{base}/cases/{ref}", screenshot_url):
            resp = page.goto(url)
            assert resp.status == 404, (who, url)
            expect(page.get_by_role("heading", level=1)).to_have_text("Siden findes ikke")
            assert ref not in page.content()
        if who == LEADER2:
            check_page(page, "05-not-found-other-unit")
        page.context.close()


def test_the_report_form_fits_a_phone(vaern, browser):
    page = new_page(browser, **PHONE)
    log_in(page, vaern.url, EMPLOYEE)
    page.goto(f"{vaern.url}/report")
    check_page(page, "06-report-phone")
    assert_fits_the_width(page, "report form")
    page.goto(f"{vaern.url}/")
    check_page(page, "07-case-list-phone")
    assert_fits_the_width(page, "case list")
    page.context.close()
