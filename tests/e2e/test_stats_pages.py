"""The statistics pages through the real Flask app: who may see them, the period form, the CSV, the SVG
charts, the audit events; and one real-browser check (axe, screenshots at desktop and phone width)."""
from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET

import pytest
import time_machine
from sqlalchemy import select

from storage.models import AuditEvent
from tests.support.browser import assert_fits_the_width, assert_no_serious_axe_findings, each_viewport, log_in, open_browser, \
    screenshot, served
from tests.support.factories import csrf_login, make_settings
from tests.support.statistics_data import NOW, build_dataset
from tests.support.database import new_runtime
from tracker.adapters.runtime import Runtime
from webui.app import create_app
from webui.stats import CHARTS

PERIOD = "from=2026-03-15&to=2026-09-14"
SVG = "{http://www.w3.org/2000/svg}"


class Org:
    def __init__(self, rt: Runtime):
        self.rt = rt
        self.data = build_dataset(rt)
        self.app = create_app(runtime=rt)
        self.app.config.update(TESTING=True)

    def client(self, who: str):
        client = csrf_login(self.app, self.data.emails[who])
        client.get("/?lang=en")  # the assertions below read the English texts
        return client


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    rt = new_runtime(make_settings(tmp_path_factory.mktemp("stats-pages")))
    yield Org(rt)
    rt.close()


@pytest.fixture
def at_now():
    with time_machine.travel(NOW, tick=False):
        yield


def audit_events(org: Org, action: str) -> list[AuditEvent]:
    with org.rt.Session() as s:
        return list(s.execute(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).scalars())


def test_hr_sees_every_unit_the_med_countdown_and_the_view_is_logged(org, at_now):
    page = org.client("hr").get(f"/stats?{PERIOD}").get_data(as_text=True)
    assert "Tandplejen" in page and "Jobcenter" in page and "Borgerservice" in page
    assert "15.09.2026" in page and "in 5 days" in page and "15.03.2027" in page  # the next two MED dates
    assert "7 cases" in page and "20.0 % of the cases" in page  # 1 of the 5 ended clocks was met in time
    assert "3.0 days (2 cases)" in page  # the median of 96 and 48 hours
    for name in CHARTS:
        assert f"/stats/charts/{name}.svg?from=2026-03-15&amp;to=2026-09-14" in page
    assert 'alt="Bar chart: Cases per month. The same numbers are in the table."' in page
    refs = org.data.refs
    assert f'href="/cases/{refs[8]}"' in page  # the overdue list links the cases
    event = audit_events(org, "stats.view")[-1]
    assert event.object_type == "statistics" and event.object_id == "2026-03-15_2026-09-14"
    assert event.details == {"scope": "all"}


def test_without_dates_the_period_runs_from_the_previous_med_meeting_to_today(org, at_now):
    page = org.client("hr").get("/stats").get_data(as_text=True)
    assert 'value="15.03.2026"' in page and 'value="10.09.2026"' in page  # shown the Danish way
    assert audit_events(org, "stats.view")[-1].object_id == "2026-03-15_2026-09-10"


def test_a_leader_of_unit_b_sees_only_unit_b(org, at_now):
    client = org.client("leader-b")
    page = client.get(f"/stats?{PERIOD}").get_data(as_text=True)
    assert "Borgerservice" in page and "Jobcenter" not in page and "Tandplejen" not in page
    assert "3 cases" in page and org.data.refs[8] not in page
    rows = read_csv(client.get(f"/stats.csv?{PERIOD}"))
    assert [(r[1], r[3]) for r in rows if r[0] == "cases_per_unit"] == [("Borgerservice", "3")]
    assert ("cases", "total", "3") in {(r[0], r[1], r[3]) for r in rows}
    assert client.get(f"/stats/charts/units.svg?{PERIOD}").get_data(as_text=True).count("Jobcenter") == 0
    assert audit_events(org, "stats.view")[-1].details == {"scope": org_unit_id(org, "leader-b")}


def org_unit_id(org: Org, who: str) -> int:
    from storage.models import User

    with org.rt.Session() as s:
        return s.execute(select(User.unit_id).where(User.email == org.data.emails[who])).scalar_one()


@pytest.mark.parametrize("who", ["employee-a", "admin"])
def test_employees_and_admins_get_404_for_every_statistics_address(org, at_now, who):
    client = org.client(who)
    for url in ("/stats", f"/stats.csv?{PERIOD}", "/stats/charts/months.svg"):
        assert client.get(url).status_code == 404, url


def test_without_login_the_statistics_ask_for_a_login(org):
    resp = org.app.test_client().get("/stats.csv")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def read_csv(resp) -> list[list[str]]:
    raw = resp.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM: Excel on Danish Windows reads UTF-8
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert rows[0] == ["statistic", "key", "label", "value"]
    return rows[1:]


def test_the_csv_has_every_number_in_a_tidy_semicolon_format_and_the_export_is_logged(org, at_now):
    resp = org.client("hr").get(f"/stats.csv?{PERIOD}")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="vaern-statistik_2026-03-15_2026-09-14.csv"'
    assert b"\r\n" in resp.get_data()
    rows = read_csv(resp)
    value = {(r[0], r[1]): r[3] for r in rows}
    assert all(len(r) == 4 for r in rows)
    assert value[("period", "from")] == "2026-03-15" and value[("cases", "total")] == "7"
    assert [value[("cases_per_month", m)] for m in ("2026-03", "2026-04", "2026-05", "2026-06", "2026-07",
                                                      "2026-08", "2026-09")] == ["0", "2", "2", "1", "1", "0", "1"]
    assert value[("cases_per_unit", "Tandplejen")] == "0"
    assert value[("cases_per_category", "not_assessed")] == "4"
    assert value[("cases_per_offender_type", "aggrieved_citizen")] == "2"
    assert value[("police_report_72h", "in_time")] == "1" and value[("police_report_72h", "overdue")] == "1"
    assert value[("police_report_72h", "rate_in_time_percent")] == "20,0"  # decimal comma
    assert value[("takedown_outcome", "request_to_author:removed")] == "2"
    assert value[("takedown_outcome", "platform_notice:verified")] == "1"
    assert value[("verified_removal", "median_hours")] == "72,0"
    assert value[("open_overdue_steps", "leader_conversation")] == "3"
    assert value[("open_overdue_steps", "police_report")] == "2"
    event = audit_events(org, "stats.export")[-1]
    assert event.object_id == "2026-03-15_2026-09-14" and event.details["format"] == "csv"


def test_a_unit_name_that_looks_like_a_formula_is_defused_in_the_csv(org, at_now):
    from tracker.accounts.users import add_unit

    with org.rt.transaction() as s:
        add_unit(s, "=HYPERLINK(\"http://evil\")")
    rows = read_csv(org.client("hr").get(f"/stats.csv?{PERIOD}"))
    names = [r[1] for r in rows if r[0] == "cases_per_unit"]
    assert "'=HYPERLINK(\"http://evil\")" in names and not any(n.startswith("=") for n in names)


@pytest.mark.parametrize("name", list(CHARTS))
def test_each_chart_is_a_valid_svg_without_scripts_and_the_same_each_time(org, at_now, name):
    client = org.client("hr")
    resp = client.get(f"/stats/charts/{name}.svg?{PERIOD}")
    assert resp.status_code == 200 and resp.mimetype == "image/svg+xml"
    assert "sandbox" in resp.headers["Content-Security-Policy"]
    root = ET.fromstring(resp.get_data())
    assert root.tag == f"{SVG}svg"
    for element in root.iter():
        assert not element.tag.lower().endswith(("script", "foreignobject")), element.tag
        assert not [a for a in element.attrib if a.lower().startswith("on")], element.attrib
        assert not any("javascript:" in v for v in element.attrib.values())
    texts = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    expected = {"units": "Borgerservice", "months": "April 2026", "police": "Reported within 72 hours",
                "takedown": "Waiting for an answer", "overdue": "police"}.get(name)
    if expected:
        assert expected.lower() in texts.lower()
    assert client.get(f"/stats/charts/{name}.svg?{PERIOD}").get_data() == resp.get_data()


def test_an_unknown_chart_is_404_and_a_bad_period_is_refused_calmly(org, at_now):
    client = org.client("hr")
    assert client.get("/stats/charts/secrets.svg").status_code == 404
    resp = client.get("/stats?from=2026-09-14&to=2026-03-15")
    assert resp.status_code == 400 and "The period ends before it starts" in resp.get_data(as_text=True)
    assert client.get("/stats?from=03/15/2026").status_code == 400
    assert client.get("/stats.csv?from=2026-09-14&to=2026-03-15").status_code == 400
    assert client.get("/stats/charts/months.svg?to=nonsense").status_code == 400


@pytest.mark.browser
def test_the_statistics_page_in_a_browser_passes_axe_and_fits_a_phone(org):
    from playwright.sync_api import expect

    with served(org.app) as base, open_browser() as browser:
        for name, page in each_viewport(browser):
            log_in(page, base, org.data.emails["hr"])
            page.goto(f"{base}/stats?{PERIOD}")
            expect(page.locator("#table-units")).to_contain_text("Tandplejen")
            for img in page.locator("img.chart").all():  # every chart loaded as an image
                img.scroll_into_view_if_needed()
                expect(img).to_have_js_property("complete", True)
                assert img.evaluate("i => i.naturalWidth") > 0
            screenshot(page, f"stats-{name}")
            assert_fits_the_width(page, name)
            assert_no_serious_axe_findings(page, name)
