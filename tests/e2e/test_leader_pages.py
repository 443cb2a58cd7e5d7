"""The leader's case page and the urgency-sorted case list, through the Flask app with CSRF on,
plus one real-browser check (axe, screenshots at desktop and phone width)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
import time_machine
from sqlalchemy import select

from storage.models import AuditEvent, Case, CaseStep, StepState, User
from tests.support.browser import assert_fits_the_width, assert_no_serious_axe_findings, each_viewport, log_in, open_browser, \
    screenshot, served
from tests.support.factories import make_case, make_settings, make_unit, make_user, csrf_login
from tests.support.database import new_runtime
from tracker.workflow import steps
from tracker.workflow.rules import RulesError, load_rules
from tracker.adapters.runtime import Runtime
from webui.app import create_app
from webui.timefmt import CPH

RULES = load_rules()
#: the tests' "now": 26.11.2026 kl. 14.05 Copenhagen time (13.05 UTC)
NOW = datetime(2026, 11, 26, 14, 5, tzinfo=CPH)
TOKEN = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')


class Org:
    """Unit A (employee, leader, AMR) with two cases, unit B's leader; the app with CSRF protection on."""

    def __init__(self, rt: Runtime):
        self.rt = rt
        self.app = create_app(runtime=rt)
        self.app.config.update(TESTING=True)
        with rt.transaction() as s:
            a, b = make_unit(s, "Jobcenter"), make_unit(s, "Borgerservice")
            self.people = {key: make_user(s, role, unit, email=f"{key}@kommune.dk", name=name).email
                           for key, role, unit, name in [
                               ("employee", "employee", a, "Mette Jensen"), ("leader", "leader", a, "Lone Leder"),
                               ("amr", "amr", a, "Anders AMR"), ("leader-b", "leader", b, "Bo Leder")]}
            employee = s.execute(select(User).where(User.email == self.people["employee"])).scalar_one()
            # 50 hours after its episode at NOW: the 72-hour clock is at risk (22 hours left)
            self.ref = make_case(s, employee, episode_at=NOW - timedelta(hours=50)).ref
            # 80 hours after: overdue by 8 hours
            self.overdue_ref = make_case(s, employee, episode_at=NOW - timedelta(hours=80)).ref
            # the episode time is unknown: its clocks cannot count
            self.unknown_ref = make_case(s, employee, episode_at=None).ref
            leader = s.execute(select(User).where(User.email == self.people["leader"])).scalar_one()
            for case in s.execute(select(Case)).scalars():  # opened the day before; the talk was held
                case.created_at = NOW - timedelta(days=1)
                steps.set_state(s, case, "leader_conversation", "done", leader, rules=RULES, now=NOW - timedelta(hours=20))

    def client(self, key: str):
        return csrf_login(self.app, self.people[key])


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    rt = new_runtime(make_settings(tmp_path_factory.mktemp("leader-pages")))
    yield Org(rt)
    rt.close()


@pytest.fixture
def at_now():
    with time_machine.travel(NOW, tick=False):
        yield


def token_of(page: str) -> str:
    return TOKEN.search(page).group(1)


def step_row(org: Org, ref: str, step_id: str) -> CaseStep | None:
    with org.rt.Session() as s:
        case = s.execute(select(Case).where(Case.ref == ref)).scalar_one()
        return s.execute(select(CaseStep).where(CaseStep.case_id == case.id, CaseStep.step_id == step_id)).scalar()


def test_the_leader_changes_a_step_with_the_form_on_the_case_page(org, at_now):
    client = org.client("leader")
    page = client.get(f"/cases/{org.ref}").get_data(as_text=True)
    assert 'action="/cases/%s/steps/follow_up/state"' % org.ref in page
    resp = client.post(f"/cases/{org.ref}/steps/follow_up/state",
                       data={"csrf_token": token_of(page), "state": "done", "done_at": "2026-11-25T09:30",
                             "note": "Opfølgende samtale holdt", "reason": ""})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/cases/{org.ref}#step-follow_up")
    row = step_row(org, org.ref, "follow_up")
    assert row.state is StepState.done and row.done_at == datetime(2026, 11, 25, 8, 30, tzinfo=timezone.utc)
    page = client.get(f"/cases/{org.ref}").get_data(as_text=True)
    assert "Gemt." in page and "Opfølgende samtale holdt" in page
    assert "Lone Leder, 26.11.2026 kl. 14.05" in page and "udført 25.11.2026 kl. 09.30" in page
    # the timeline says it in Danish
    assert "Trinnet «Opfølgning med medarbejderen og berørte kollegaer» blev sat til Udført (før: Ikke startet), " \
           "udført 25.11.2026 kl. 09.30." in page


def test_skipping_without_a_reason_is_refused_with_a_danish_message(org, at_now):
    client = org.client("leader")
    page = client.get(f"/cases/{org.ref}").get_data(as_text=True)
    resp = client.post(f"/cases/{org.ref}/steps/contact_citizen/state",
                       data={"csrf_token": token_of(page), "state": "skipped", "reason": " "}, follow_redirects=True)
    assert resp.status_code == 200
    assert "Angiv en begrundelse, når et trin springes over eller ikke er relevant." in resp.get_data(as_text=True)
    assert step_row(org, org.ref, "contact_citizen") is None or step_row(org, org.ref, "contact_citizen").state is StepState.todo


def test_a_form_without_the_csrf_token_is_rejected(org, at_now):
    client = org.client("leader")
    resp = client.post(f"/cases/{org.ref}/steps/follow_up/state", data={"state": "todo"})
    assert resp.status_code == 400


def test_the_employee_reads_what_happens_now_but_cannot_change_the_steps(org, at_now):
    client = org.client("employee")
    page = client.get(f"/cases/{org.ref}").get_data(as_text=True)
    assert "Hvad sker der nu" in page  # the calm page: no checklist, ladder or legal clocks (tests/test_case_cockpit.py)
    assert "/steps/" not in page and "/clocks" not in page and "/facts" not in page
    assert "Politianmeldelse inden 72 timer" not in page
    resp = client.post(f"/cases/{org.ref}/steps/secure_evidence/state",
                       data={"csrf_token": token_of(page), "state": "done"})
    assert resp.status_code == 403
    assert "Du kan ikke ændre denne sag" in resp.get_data(as_text=True)
    assert step_row(org, org.ref, "secure_evidence") is None or step_row(org, org.ref, "secure_evidence").state is StepState.todo


def test_the_amr_changes_only_the_amr_steps(org, at_now):
    client = org.client("amr")
    page = client.get(f"/cases/{org.ref}").get_data(as_text=True)
    assert f"/cases/{org.ref}/steps/apv_action_plan/state" in page
    assert f"/cases/{org.ref}/steps/follow_up/state" not in page
    ok = client.post(f"/cases/{org.ref}/steps/apv_action_plan/state",
                     data={"csrf_token": token_of(page), "state": "in_progress"})
    assert ok.status_code == 302
    no = client.post(f"/cases/{org.ref}/steps/follow_up/state", data={"csrf_token": token_of(page), "state": "todo"})
    assert no.status_code == 403


def test_another_units_leader_gets_404_for_the_page_and_the_forms(org, at_now):
    client = org.client("leader-b")
    page = client.get("/").get_data(as_text=True)
    assert org.ref not in page
    assert client.get(f"/cases/{org.ref}").status_code == 404
    for url in (f"/cases/{org.ref}/steps/follow_up/state", f"/cases/{org.ref}/clocks", f"/cases/{org.ref}/facts",
                f"/cases/{org.ref}/police-report/decline", f"/cases/{org.ref}/steps/platform_notice/rung"):
        resp = client.post(url, data={"csrf_token": token_of(page), "state": "done", "note": "x"})
        assert resp.status_code == 404, url
        assert org.ref not in resp.get_data(as_text=True)


def test_deadlines_show_due_time_danish_countdown_state_and_legal_source(org, at_now):
    client = org.client("leader")
    page = client.get(f"/cases/{org.ref}").get_data(as_text=True)
    police = page[page.index('id="deadline-police_report"'):]
    police = police[:police.index("</li>")]
    assert "Politianmeldelse inden 72 timer" in police
    assert "27.11.2026 kl. 12.05" in police and "om 22 timer" in police
    assert "badge-at_risk" in police and "Snart" in police
    assert "Offererstatningsloven § 10, stk. 1" in police
    injunction = page[page.index('id="deadline-justification_suit"'):]
    assert "Starttidspunkt ukendt" in injunction[:injunction.index("</li>")]
    overdue = client.get(f"/cases/{org.overdue_ref}").get_data(as_text=True)
    assert "overskredet for 8 timer siden" in overdue and "Overskredet" in overdue
    english = client.get(f"/cases/{org.ref}?lang=en").get_data(as_text=True)
    assert "Police report within 72 hours" in english and "in 22 hours" in english and "Due soon" in english
    client.get("/?lang=da")


def test_setting_a_clock_start_and_declining_the_police_report(org, at_now):
    client = org.client("leader")
    ref = org.unknown_ref
    page = client.get(f"/cases/{ref}").get_data(as_text=True)
    resp = client.post(f"/cases/{ref}/clocks", data={"csrf_token": token_of(page), "name": "episode",
                                                     "at": "2026-11-25T20:00", "note": "Opslaget er fra i aftes"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("#deadlines")
    page = client.get(f"/cases/{ref}").get_data(as_text=True)
    assert "28.11.2026 kl. 20.00" in page  # 72 hours after the episode
    note = "Medarbejderen ønsker ikke at anmelde. Registreret i InsuBiz."
    resp = client.post(f"/cases/{ref}/police-report/decline", data={"csrf_token": token_of(page), "note": note})
    assert resp.status_code == 302
    page = client.get(f"/cases/{ref}").get_data(as_text=True)
    police = page[page.index('id="deadline-police_report"'):]
    police = police[:police.index("</li>")]
    assert "Overholdt" in police and note in police
    with org.rt.Session() as s:
        actions = [e.action for e in s.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars()]
    assert "clock.set" in actions and "step.police_report_declined" in actions


def test_the_facts_form_and_the_ladder_suggestion(org, at_now):
    client = org.client("leader")
    page = client.get(f"/cases/{org.overdue_ref}").get_data(as_text=True)
    resp = client.post(f"/cases/{org.overdue_ref}/facts", data={
        "csrf_token": token_of(page), "author_known": "no", "private_information_disclosed": "unknown",
        "defamatory": "yes"})
    assert resp.status_code == 302
    page = client.get(f"/cases/{org.overdue_ref}").get_data(as_text=True)
    rung = page[page.index('id="step-platform_notice"'):]
    assert "suggested" in page[page.index('id="step-platform_notice"') - 80:page.index('id="step-platform_notice"')]
    assert "Foreslået næste trin" in rung[:rung.index("</li>")]
    resp = client.post(f"/cases/{org.overdue_ref}/steps/platform_notice/rung", data={
        "csrf_token": token_of(page), "sent_at": "2026-11-26T10:00", "channel": "Facebooks DSA-formular",
        "platform_ref": "FB-123", "outcome": "", "statement_of_reasons": ""})
    assert resp.status_code == 302
    page = client.get(f"/cases/{org.overdue_ref}").get_data(as_text=True)
    assert "FB-123" in page and "venter på svar" in page


def test_the_case_list_puts_the_most_urgent_deadline_first(org, at_now):
    client = org.client("leader")
    page = client.get("/").get_data(as_text=True)
    order = [m for m in re.findall(r'<a href="/cases/(V-\d{4}-\d{5})"', page)]
    assert order.index(org.overdue_ref) < order.index(org.ref) < order.index(org.unknown_ref)
    row = page[page.index(f">{org.overdue_ref}<"):]
    row = row[:row.index("</li>")]
    assert "Overskredet" in row and "overskredet for 8 timer siden" in row


def test_a_broken_rules_file_stops_the_app_with_one_line(tmp_path, monkeypatch, org):
    for name in ("response.toml", "deadlines.toml"):
        (tmp_path / name).write_bytes((RULES.directory / name).read_bytes())
    broken = (tmp_path / "deadlines.toml").read_text().replace('unit = "hours" }\ncounting', 'unit = "hourz" }\ncounting', 1)
    (tmp_path / "deadlines.toml").write_text(broken)
    monkeypatch.setattr("tracker.workflow.rules.RULES_DIR", tmp_path)
    with pytest.raises(RulesError) as exc:
        create_app(runtime=org.rt)
    assert "\n" not in str(exc.value) and "deadlines.toml" in str(exc.value)


# -- in a real browser ------------------------------------------------------------------------------
@pytest.mark.browser
def test_the_leaders_case_page_in_a_browser_passes_axe_and_fits_a_phone(tmp_path):
    from playwright.sync_api import expect

    rt = new_runtime(make_settings(tmp_path))
    now = datetime.now(timezone.utc)
    with rt.transaction() as s:
        unit = make_unit(s, "Jobcenter")
        employee = make_user(s, "employee", unit, name="Mette Jensen")
        leader = make_user(s, "leader", unit, name="Lone Leder")
        leader_email = leader.email
        case = make_case(s, employee, episode_at=now - timedelta(hours=50))
        make_case(s, employee, episode_at=now - timedelta(hours=80))
        ref = case.ref
        steps.set_facts(s, case, leader, author_known=True, private_information_disclosed=False, defamatory=True)
        steps.set_state(s, case, "leader_conversation", "done", leader, note="Tilbudt Falck Healthcare",
                        rules=RULES)
        steps.record_rung(s, case, "request_to_author", leader, now - timedelta(days=8), "Brev", None,
                          "no_answer", None, rules=RULES)
        steps.set_clock(s, case, "absence_start", now - timedelta(days=12), leader, "Sygemeldt")
    try:
        with served(create_app(runtime=rt)) as base, open_browser() as browser:
            for name, page in each_viewport(browser):
                log_in(page, base, leader_email)
                expect(page.locator(".case-card").first).to_contain_text("Overskredet")
                screenshot(page, f"leader-list-{name}")
                assert_fits_the_width(page, name)
                page.goto(f"{base}/cases/{ref}")
                expect(page.locator("#step-platform_notice")).to_contain_text("Foreslået næste trin")
                if name == "desktop":  # change a step the way a leader does, without any JavaScript
                    item = page.locator("#step-follow_up")
                    item.get_by_text("Ændr trinnet").click()
                    item.get_by_label("Tilstand").select_option("in_progress")
                    item.get_by_role("button", name="Gem trin").click()
                    expect(page.get_by_text("Gemt.")).to_be_visible()
                    expect(page.locator("#step-follow_up .badge")).to_have_text("I gang")
                screenshot(page, f"leader-case-{name}")
                assert_fits_the_width(page, name)
                assert_no_serious_axe_findings(page, name)
    finally:
        rt.close()
