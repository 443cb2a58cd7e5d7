"""The data subject's pages (issue 16.4) in Chromium: HR previews and carries out an erasure on request and
sees what is kept under which exception; HR searches what Værn holds about an offender and downloads the
redacted draft; the administrator may erase but not search; an employee has neither page. Both pages fit a
phone and have no serious axe finding."""
from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

from sqlalchemy import select

from storage.models import AuditEvent, Case, Role, User
from tests.support.browser import assert_fits_the_width, assert_no_serious_axe_findings, each_viewport, log_in, \
    open_browser, screenshot, served
from tests.support.database import new_runtime
from tests.support.factories import make_case, make_done_evidence, make_post_bundle, make_settings, make_unit, make_user
from tracker.cases.lifecycle import close_case
from webui.app import create_app


def test_hr_previews_and_erases_on_request_and_makes_an_offenders_redacted_handout(tmp_path):
    rt = new_runtime(make_settings(tmp_path / "data"))
    try:
        with rt.transaction() as s:
            unit = make_unit(s, "Jobcenter")
            employee = make_user(s, Role.employee, unit, name="Mette Jensen", email="mette.jensen@kommune.dk")
            leaver = make_user(s, Role.employee, unit, name="Søren Sørensen", email="soren@kommune.dk")
            hr, admin = make_user(s, Role.hr, name="Hanne HR"), make_user(s, Role.admin, name="Anders Admin")
            leader = make_user(s, Role.leader, unit, name="Lone Leder")
            case = make_case(s, employee, description="Hans Troll (@hans_troll) truede Mette Jensen, tlf. 12 34 56 78.")
            open_ref = make_case(s, leaver, description="Opslag om Søren").ref
            closed = make_case(s, leaver, description="Et gammelt opslag")
            close_case(s, closed, leader, "Fjernet")
            ref, case_id, closed_ref = case.ref, case.id, closed.ref
            emails = {"hr": hr.email, "admin": admin.email, "employee": employee.email}
            employee_id, leaver_id = employee.id, leaver.id
        make_done_evidence(rt, case_id, employee_id, url="https://www.facebook.com/hans_troll/posts/9",
                           bundle=make_post_bundle(author_handle="@hans_troll"))
        app = create_app(runtime=rt)
        with served(app) as base, open_browser() as browser:
            for name, page in each_viewport(browser):
                log_in(page, base, emails["hr"])
                page.goto(base + "/")
                page.get_by_role("link", name="Registreredes rettigheder").click()
                page.get_by_label("Medarbejderens e-mailadresse").fill("soren@kommune.dk")
                page.get_by_label("Anmodningen").fill("E-mail af 1.12.2026")
                page.get_by_role("button", name="Vis, hvad der slettes").press("Enter")
                plan = page.locator("table.plan")
                plan.wait_for()
                text = plan.inner_text()
                assert "Sagen er åben" in text and "Sagens opbevaringsperiode er ikke udløbet" in text
                assert open_ref in text and closed_ref in text and "art. 17, stk. 3, litra e" in text
                assert_no_serious_axe_findings(page, f"erasure preview ({name})")
                assert_fits_the_width(page, f"erasure preview {name}")
                screenshot(page, f"privacy-erase-preview-{name}")
                if name == "desktop":
                    page.get_by_role("button", name="Slet som vist").click()
                    page.locator("#erased-notice").wait_for()
                    screenshot(page, "privacy-erase-done-desktop")

                page.goto(f"{base}/hr/privacy/access")
                page.get_by_label("Navn eller profilnavn").fill("@hans_troll")
                page.get_by_role("button", name="Søg").click()
                draft = page.locator("section[aria-labelledby=draft-title]")
                draft.wait_for()
                words = draft.inner_text()
                assert "UDKAST" in words and ref in words and "[medarbejder]" in words and "[telefon]" in words
                assert "Mette" not in words and "12 34 56 78" not in words
                assert_no_serious_axe_findings(page, f"offender access draft ({name})")
                assert_fits_the_width(page, f"offender access draft {name}")
                screenshot(page, f"privacy-access-{name}")
                if name == "desktop":
                    with page.expect_download() as got:
                        page.get_by_role("button", name="Hent udkastet (JSON og PDF)").click()
                    with zipfile.ZipFile(io.BytesIO(Path(got.value.path()).read_bytes())) as zf:
                        handout = json.loads(zf.read("udlevering.json"))
                        assert zf.read("udlevering.pdf").startswith(b"%PDF")
                    assert handout["draft"] is True and handout["offender_records"][0]["handle"] == "hans_troll"
                    assert "Mette" not in json.dumps(handout, ensure_ascii=False)
            for who, erase, access in (("admin", 200, 404), ("employee", 404, 404)):
                page = browser.new_page()
                log_in(page, base, emails[who])
                assert page.goto(f"{base}/hr/privacy/erase").status == erase
                assert page.goto(f"{base}/hr/privacy/access?q=hans_troll").status == access
                page.close()
        with rt.Session() as s:
            leaver = s.get(User, leaver_id)
            assert not leaver.active and leaver.name == "Søren Sørensen"  # kept: the open case names them
            assert s.execute(select(Case.erased_at).where(Case.ref == closed_ref)).scalar() is None
            hr_id = s.execute(select(User.id).where(User.email == emails["hr"])).scalar_one()
            searches = list(s.execute(select(AuditEvent).where(AuditEvent.action == "subject.offender_search"))
                            .scalars())
            assert {e.actor_id for e in searches} == {hr_id}
            assert all(e.details["query"] == "@hans_troll" for e in searches)
            assert any(e.details.get("handout") for e in searches)
    finally:
        rt.close()


def test_in_english_on_a_phone_the_erasure_preview_explains_itself_before_the_erase_button(tmp_path):
    """The preview names each exception in English, says nothing is erased yet, and puts the erase button after the
    table; the offender search says when nothing matches. Both pages fit 390 px and have no serious axe finding."""
    from playwright.sync_api import expect

    rt = new_runtime(make_settings(tmp_path / "data"))
    try:
        with rt.transaction() as s:
            unit = make_unit(s, "Jobcenter Øst – Ydelseskontoret for sygedagpenge")
            leaver = make_user(s, Role.employee, unit, name="Søren Sørensen", email="soren@kommune.dk")
            hr = make_user(s, Role.hr, name="Hanne HR").email
            open_ref = make_case(s, leaver, description="Opslag om Søren").ref
        app = create_app(runtime=rt)
        with served(app) as base, open_browser() as browser:
            for name, page in each_viewport(browser):
                log_in(page, base, hr, lang="en")
                page.goto(f"{base}/hr/privacy/erase")
                page.get_by_label("The employee's e-mail address").fill("soren@kommune.dk")
                page.get_by_label("The request").fill("E-mail of 1.12.2026")
                page.get_by_role("button", name="Show what would be erased").click()
                plan = page.locator("table.plan")
                plan.wait_for()
                text = plan.inner_text()
                assert f"Case {open_ref} (1 piece of evidence)" in text  # the report's one evidence, singular
                assert "Will be kept" in text and "The case is open" in text and "Art. 17(1)(a) is not met" in text
                assert "Sagen er åben" not in text and "stk." not in text
                assert "Nothing has been erased yet." in page.locator(".plan-summary").inner_text()
                erase = page.get_by_role("button", name="Erase as shown")
                assert erase.count() == 1
                assert page.evaluate("""() => {  // the button comes after the table it acts on
                    const t = document.querySelector('table.plan'), b = document.querySelector('button[value=erase]');
                    return !!(t.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING); }""")
                assert_no_serious_axe_findings(page, f"erasure preview in English ({name})")
                assert_fits_the_width(page, f"erasure preview in English {name}")
                screenshot(page, f"privacy-erase-preview-en-{name}")

                page.goto(f"{base}/hr/privacy/access?q=nobody-here")
                assert "Værn holds nothing that matches “nobody-here”" in page.locator("#found-nothing").inner_text()
                assert "The draft is in Danish" in page.locator("section[aria-labelledby=draft-title]").inner_text()
                assert_no_serious_axe_findings(page, f"offender access, nothing found, in English ({name})")
                assert_fits_the_width(page, f"offender access in English {name}")
                page.goto(f"{base}/hr/privacy/access?q=ab")  # the error is read out with the field it is about
                expect(page.get_by_label("Name or handle")).to_have_accessible_description(
                    re.compile(r"Write at least 3 characters of the name or handle\.$"))
    finally:
        rt.close()
