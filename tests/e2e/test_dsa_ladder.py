"""The DSA part of the ladder in Chromium (issue 17): the leader records a refused platform notice through the
rung form (receipt and decision dates typed in Danish), then sees the art. 20 complaint clock, the certified
body for the platform and the advice by category — at laptop and phone size, axe clean, no sideways scroll."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from storage.models import Case, CaseStep
from tests.support.browser import assert_fits_the_width, assert_no_serious_axe_findings, log_in, new_page, open_browser, \
    screenshot, served
from tests.support.factories import make_case, make_settings, make_unit, make_user
from tracker.adapters.runtime import Runtime
from tracker.workflow.deadlines import COPENHAGEN
from webui.app import create_app

LAPTOP = {"viewport": {"width": 1366, "height": 768}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    rt = Runtime.from_settings(make_settings(tmp_path_factory.mktemp("dsa-ladder")))
    app = create_app(runtime=rt)
    with rt.transaction() as s:
        unit = make_unit(s, "Jobcenter Syd")
        employee = make_user(s, "employee", unit, name="Mette Jensen")
        leader = make_user(s, "leader", unit, name="Lone Leder")
        case = make_case(s, employee, url="https://www.facebook.com/groups/borgere/posts/9")
        case.private_information_disclosed, case.defamatory = True, True
        refs = (case.ref, leader.email)
    yield rt, app, refs
    rt.close()


def test_a_refused_notice_recorded_in_the_browser_opens_the_dsa_route(site):
    from playwright.sync_api import expect

    rt, app, (ref, leader) = site
    sent = (datetime.now(COPENHAGEN) - timedelta(days=4)).replace(second=0, microsecond=0)
    decided = sent + timedelta(days=2)
    with served(app) as base, open_browser() as browser:
        page = new_page(browser, **LAPTOP)
        try:
            log_in(page, base, leader)
            page.goto(f"{base}/cases/{ref}#step-platform_notice")
            rung = page.locator("#step-platform_notice")
            rung.locator("summary").click()
            rung.get_by_label("Sendt (dansk tid)").fill(sent.strftime("%d.%m.%Y %H.%M"))
            rung.get_by_label("Modtagelse bekræftet (dansk tid)").fill((sent + timedelta(hours=1)).strftime("%d.%m.%Y %H.%M"))
            rung.get_by_label("Afgørelse meddelt (dansk tid)").fill(decided.strftime("%d.%m.%Y %H.%M"))
            rung.locator("select[name=outcome]").select_option("refused")
            rung.locator("input[name=platform_ref]").fill("FB-2211")
            rung.get_by_role("button", name="Gem trinnet").click()
            expect(page.locator("#step-platform_notice .rung-record")).to_contain_text("Afgørelse meddelt")
            expect(page.locator("#dispute-bodies")).to_contain_text("Appeals Centre Europe")
            expect(page.locator("#advice-datatilsynet_not_defamation")).to_contain_text("ikke ærekrænkelser")
            expect(page.locator("#other-routes")).to_contain_text("§ 96")
        finally:
            page.context.close()
        with rt.Session() as s:
            case = s.execute(select(Case).where(Case.ref == ref)).scalar_one()
            row = s.execute(select(CaseStep).where(CaseStep.case_id == case.id,
                                                   CaseStep.step_id == "platform_notice")).scalar_one()
            assert (row.outcome, row.platform_ref, row.decided_at) == ("refused", "FB-2211", decided)
        for size, options in (("laptop", LAPTOP), ("phone", PHONE)):
            page = new_page(browser, **options)
            try:
                log_in(page, base, leader)
                page.goto(f"{base}/cases/{ref}")
                screenshot(page.locator("#ladder"), f"dsa-ladder-{size}")
                assert_fits_the_width(page, size)
                assert_no_serious_axe_findings(page, f"dsa ladder {size}")
            finally:
                page.context.close()
