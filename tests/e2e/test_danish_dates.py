"""Dates are typed and shown the Danish way (26.11.2026 14.05) whatever the browser's language: plain text
fields with a pattern and an example instead of the browser's pickers, which show mm/dd/yyyy in English."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from storage.models import Case, CaseStep, StepState
from tests.support.browser import assert_fits_the_width, assert_no_serious_axe_findings, log_in, open_browser, \
    screenshot, served, DESKTOP, PHONE
from tests.support.factories import make_case, make_settings, make_unit, make_user
from tests.support.database import new_runtime
from webui.app import create_app
from webui.timefmt import CPH, format_input, parse_date, parse_local


@pytest.mark.parametrize("typed", ["26.11.2026 14.05", "26.11.2026 14:05", "26.11.2026 kl. 14.05",
                                   "26.11.2026, 14.05", " 26.11.2026  kl.14:05 ", "2026-11-26T14:05"])
def test_a_typed_danish_or_iso_time_is_read_as_danish_time(typed):
    assert parse_local(typed) == datetime(2026, 11, 26, 14, 5, tzinfo=CPH)


@pytest.mark.parametrize("typed", ["26.11.2026", "11/26/2026 2:05 PM", "31.02.2026 10.00", "26.11.2026 25.00", "i går"])
def test_a_time_that_cannot_be_read_or_lacks_the_hour_is_refused(typed):
    with pytest.raises(ValueError):
        parse_local(typed)


def test_dates_and_the_fields_value():
    assert parse_date("5.12.2026") == parse_date("2026-12-05") == date(2026, 12, 5)
    assert parse_local("") is None and parse_date(" ") is None
    with pytest.raises(ValueError):
        parse_date("12/05/2026")
    assert format_input(datetime(2026, 12, 5, 10, 5, tzinfo=timezone.utc)) == "05.12.2026 11.05"


@pytest.mark.browser
def test_an_english_browser_shows_and_takes_danish_dates_on_the_case_page(tmp_path):
    from playwright.sync_api import expect

    rt = new_runtime(make_settings(tmp_path))
    with rt.transaction() as s:
        unit = make_unit(s, "Jobcenter")
        employee = make_user(s, "employee", unit, name="Mette Jensen")
        leader = make_user(s, "leader", unit, name="Lone Leder")
        ref = make_case(s, employee, episode_at=datetime.now(timezone.utc) - timedelta(hours=5)).ref
        leader_email = leader.email
    typed = (datetime.now(CPH) - timedelta(days=1)).replace(hour=9, minute=30, second=0, microsecond=0)
    try:
        with served(create_app(runtime=rt)) as base, open_browser() as browser:
            for name, options in (("desktop", DESKTOP), ("phone", PHONE)):
                ctx = browser.new_context(locale="en-US", timezone_id="America/New_York", **options)
                page = ctx.new_page()
                page.set_default_timeout(15_000)
                log_in(page, base, leader_email)
                page.goto(f"{base}/cases/{ref}")
                item = page.locator("#step-follow_up")
                item.get_by_text("Ændr trinnet").click()
                field = item.get_by_label("Udført (tomt: nu)")
                assert field.get_attribute("type") == "text" and field.get_attribute("lang") == "da"
                expect(item.get_by_text("Dato og klokkeslæt, fx 26.11.2026 14.05")).to_be_visible()
                if name == "desktop":
                    item.get_by_label("Tilstand").select_option("done")
                    field.fill(typed.strftime("%d.%m.%Y %H.%M"))
                    item.get_by_role("button", name="Gem trin").click()
                    expect(page.get_by_text("Gemt.")).to_be_visible()
                    page.locator("#step-follow_up").get_by_text("Ændr trinnet").click()
                    expect(page.locator("#step-follow_up").get_by_label("Udført (tomt: nu)")).to_have_value(
                        typed.strftime("%d.%m.%Y %H.%M"))
                screenshot(page, f"dates-en-browser-{name}")
                assert_fits_the_width(page, name)
                assert_no_serious_axe_findings(page, name)
                ctx.close()
        with rt.Session() as s:
            case = s.execute(select(Case).where(Case.ref == ref)).scalar_one()
            row = s.execute(select(CaseStep).where(CaseStep.case_id == case.id,
                                                   CaseStep.step_id == "follow_up")).scalar_one()
            assert row.state is StepState.done and row.done_at == typed.astimezone(timezone.utc)
    finally:
        rt.close()


def test_the_report_form_and_hr_filters_take_danish_dates(tmp_path):
    from tests.support.factories import csrf_login

    rt = new_runtime(make_settings(tmp_path))
    with rt.transaction() as s:
        make_user(s, "hr", make_unit(s), email="hr@kommune.dk")
    app = create_app(runtime=rt)
    app.config.update(TESTING=True)
    try:
        client = csrf_login(app, "hr@kommune.dk")
        ok = client.get("/hr/audit?from=01.12.2026&to=31.12.2026").get_data(as_text=True)
        assert "Datoen kunne ikke læses" not in ok and 'value="01.12.2026"' in ok
        assert 'type="date"' not in ok
        bad = client.get("/hr/audit?from=12/01/2026").get_data(as_text=True)
        assert "Datoen kunne ikke læses. Skriv den som dag.måned.år" in bad
    finally:
        rt.close()
