"""Capture statuses as people read them: the PDF/HTML evidence report and the case page, from real captures.

Real Chromium and egress proxy against fixture pages on 127.0.0.1 (and a second site on 127.0.0.2), the real
capture job, the real report printer and the real Flask app.
"""
from __future__ import annotations

import io
import re
from urllib.parse import quote

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from storage.models import Evidence, Role
from tests.support.browser import assert_fits_the_width, assert_no_serious_axe_findings, each_viewport, log_in, open_browser
from tests.support.browser import screenshot, served
from tests.support.fixture_site import FixtureSite
from tests.support.factories import csrf_login, make_case, make_unit, make_user
from tracker.cases.evidence import run_capture_job
from tracker.packaging.reports import evidence_report_html, evidence_report_pdf
from webui.app import create_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site():
    with FixtureSite() as s:
        yield s


@pytest.fixture(scope="module")
def other_site():
    with FixtureSite("127.0.0.2") as s:
        yield s


def capture(rt, url: str) -> tuple[int, str, str, str]:
    """An employee's case for ``url``, captured for real: (evidence id, case ref, employee's and leader's e-mail)."""
    with rt.transaction() as s:
        unit = make_unit(s)
        employee = make_user(s, Role.employee, unit, name="Søren Sørensen")
        leader = make_user(s, Role.leader, unit, name="Lene Leder")
        case = make_case(s, employee, url=url)
        ev_id, ref, email, leader_email = case.evidence[0].id, case.ref, employee.email, leader.email
    assert run_capture_job(rt, ev_id) == "done"
    return ev_id, ref, email, leader_email


def visible_text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html.split("<body", 1)[1]).split())


def test_a_covered_post_is_consent_wall_in_the_pdf_and_on_the_case_page_with_a_request_for_a_photo(make_runtime,
                                                                                                   site):
    rt = make_runtime(capture_allowed_hosts=f"127.0.0.1:{site.port}")
    ev_id, ref, email, leader_email = capture(rt, site.url("/consent_sticky.html"))
    with rt.Session() as s:
        ev = s.get(Evidence, ev_id)
        assert ev.capture_status == "consent_wall"
        pdf = evidence_report_pdf(rt, s, ev)

    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())
    assert "Dækket af vindue" in text and "(consent_wall)" in text
    assert "dækkede stadig indholdet, efter Værn havde forsøgt at fjerne det" in text
    assert "Værn kunne ikke se opslaget i denne sikring" in text and "foto af skærmen" in text
    assert f"skrivesagsnummeret{ref}ibeskrivelsen" in re.sub(r"\s+", "", text)
    link = f"{rt.settings.base_url.rstrip('/')}/cases/{ref}#step-secure_evidence"
    assert link in re.sub(r"\s+", "", text)

    app = create_app(runtime=rt)
    app.config.update(TESTING=True)
    page = csrf_login(app, email).get(f"/cases/{ref}").get_data(as_text=True)
    words = visible_text(page)
    assert "Et vindue (fx en cookie-dialog) dækkede stadig indholdet" in words
    assert "Værn kunne ikke se opslaget. Har du set det, så tag et foto af skærmen" in words
    # the employee may not change the checklist: the upload that exists for them is the report form
    assert '<a href="/report">Send det med formularen »Anmeld krænkelse«</a>' in page
    assert f"skriv sagsnummeret {ref} i beskrivelsen" in words

    page = csrf_login(app, leader_email).get(f"/cases/{ref}").get_data(as_text=True)
    assert "Vedhæft det under trinnet Reager hurtigt og sikr beviserne" in visible_text(page)
    assert 'href="#step-secure_evidence">Reager hurtigt og sikr beviserne</a>' in page
    assert 'id="step-secure_evidence"' in page and 'id="attach-file-secure_evidence"' in page, \
        "the link leads to the step with the leader's upload"

    with served(app) as base, open_browser() as browser:
        for name, tab in each_viewport(browser):
            log_in(tab, base, email)
            tab.goto(f"{base}/cases/{ref}")
            request = tab.locator(".photo-request")
            expect(request).to_be_visible()
            assert_no_serious_axe_findings(tab, f"case page with a consent_wall capture ({name})")
            assert_fits_the_width(tab, name)
            screenshot(request, f"capture-status-photo-request-{name}")


def test_accepting_cookies_is_said_plainly_and_a_move_to_another_site_shows_its_chain(make_runtime, site, other_site):
    rt = make_runtime(capture_allowed_hosts=f"127.0.0.1:{site.port},127.0.0.2:{other_site.port}")
    accepted, *_ = capture(rt, site.url("/consent_accept_only.html"))
    target = other_site.url("/plain_post.html")
    moved, *_ = capture(rt, site.url(f"/go/meta?to={quote(target, safe='')}"))
    ok, *_ = capture(rt, site.url("/plain_post.html"))
    with rt.Session() as s:
        html = {k: visible_text(evidence_report_html(rt, s, s.get(Evidence, i)))
                for k, i in (("accepted", accepted), ("moved", moved), ("ok", ok))}
        statuses = {k: s.get(Evidence, i).capture_status for k, i in (("accepted", accepted), ("moved", moved),
                                                                      ("ok", ok))}

    assert statuses == {"accepted": "consent_accepted", "moved": "navigated_away", "ok": "ok"}
    assert "Sikret efter accept af cookies" in html["accepted"]
    assert "accepterede derefter cookies for at kunne se indholdet" in html["accepted"]
    assert "afviste valgfrie cookies" not in html["accepted"]
    assert "Værn kunne ikke se opslaget" not in html["accepted"]
    assert "Sendt videre til anden side" in html["moved"] and "Siden sendte videre" in html["moved"]
    assert f"{target} — siden selv (automatisk opdatering eller script), HTTP 200" in html["moved"]
    assert "Værn kunne ikke se opslaget" in html["moved"]
    assert "uden noget der dækkede den" in html["ok"] and "Værn kunne ikke se opslaget" not in html["ok"]
    assert "Siden sendte videre" not in html["ok"]
