"""Legal hold on the case page (issue 16): HR places and releases it with a keyboard-usable form, the page shows
it in Danish, fits a phone and has no serious axe finding; a leader sees the hold but has no form."""
from __future__ import annotations

from sqlalchemy import select

from storage.models import AuditEvent, Case, Role
from tests.support.browser import assert_fits_the_width, assert_no_serious_axe_findings, each_viewport, log_in, \
    open_browser, screenshot, served
from tests.support.database import new_runtime
from tests.support.factories import make_case, make_settings, make_unit, make_user
from webui.app import create_app


def test_hr_places_and_releases_a_legal_hold_on_the_case_page(tmp_path):
    rt = new_runtime(make_settings(tmp_path / "data"))
    try:
        with rt.transaction() as s:
            unit = make_unit(s, "Jobcenter")
            employee = make_user(s, Role.employee, unit, name="Mette Jensen")
            hr, leader = make_user(s, Role.hr, name="Hanne HR"), make_user(s, Role.leader, unit, name="Lone Leder")
            ref, hr_email, leader_email = make_case(s, employee).ref, hr.email, leader.email
        app = create_app(runtime=rt)
        with served(app) as base, open_browser() as browser:
            for name, page in each_viewport(browser):
                log_in(page, base, hr_email)
                page.goto(f"{base}/cases/{ref}#hold")
                section = page.locator("#hold")
                if name == "desktop":
                    assert "Ikke tilbageholdt" in section.inner_text()
                    page.get_by_label("Hvorfor sagen skal gemmes").fill("Retssag ved Københavns Byret, BS-123/2026")
                    page.get_by_role("button", name="Tilbagehold sagen").press("Enter")
                    page.wait_for_url(f"**/cases/{ref}#hold")
                text = page.locator("#hold").inner_text()
                assert "Tilbageholdt af retlige grunde siden" in text and "BS-123/2026" in text
                assert page.get_by_role("button", name="Ophæv tilbageholdelsen").is_visible()
                assert_no_serious_axe_findings(page, f"case page with a hold ({name})")
                assert_fits_the_width(page, name)
                screenshot(page.locator("#hold"), f"legal-hold-{name}")
            leader_page = browser.new_page()
            log_in(leader_page, base, leader_email)
            leader_page.goto(f"{base}/cases/{ref}#hold")
            assert "BS-123/2026" in leader_page.locator("#hold").inner_text()
            assert leader_page.get_by_role("button", name="Ophæv tilbageholdelsen").count() == 0
            leader_page.close()
            for _name, page in each_viewport(browser):
                log_in(page, base, hr_email)
                page.goto(f"{base}/cases/{ref}#hold")
                page.get_by_role("button", name="Ophæv tilbageholdelsen").click()
                page.wait_for_url(f"**/cases/{ref}#hold")
                assert "Ikke tilbageholdt" in page.locator("#hold").inner_text()
                break
        with rt.Session() as s:
            case = s.execute(select(Case).where(Case.ref == ref)).scalar_one()
            assert case.hold_at is None
            actions = list(s.execute(select(AuditEvent.action).where(AuditEvent.case_id == case.id,
                                                                    AuditEvent.action.like("case.%"))
                                     .order_by(AuditEvent.id)).scalars())
        assert [a for a in actions if a in ("case.hold", "case.release")] == ["case.hold", "case.release"]
    finally:
        rt.close()
