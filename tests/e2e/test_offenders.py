"""Offenders: suggested from a capture's author, confirmed or dismissed by the leader, "seen in N other
cases" with only the cases the viewer may see, the offender pages, and a browser check with axe."""
from __future__ import annotations

import re
import unicodedata

import pytest
from sqlalchemy import select

from storage.models import AuditEvent, Case, CaseOffender, Evidence, Offender, OffenderKind, User
from tests.support.browser import assert_fits_the_width, assert_no_serious_axe_findings, each_viewport, log_in, new_page, \
    open_browser, screenshot, served
from tests.support.factories import (csrf_login, make_case, make_done_evidence, make_post_bundle,
                             make_settings, make_unit, make_user)
from tests.support.database import new_runtime
from tracker.oversight import offenders
from tracker.adapters.runtime import Runtime
from webui.app import create_app

TOKEN = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')


def test_handles_are_normalised_whatever_way_they_were_typed():
    decomposed = unicodedata.normalize("NFD", "Søren.Ærø")
    assert offenders.normalise_handle(f"  @{decomposed} ") == unicodedata.normalize("NFC", "søren.ærø")
    assert offenders.normalise_handle("@@Troll_42") == "troll_42"
    assert offenders.normalise_handle(" @ ") is None and offenders.normalise_handle(None) is None


def test_a_captured_author_fills_the_evidence_columns_and_is_suggested_on_the_case(runtime):
    with runtime.transaction() as s:
        employee = make_user(s, "employee", make_unit(s))
        case_id, employee_id = make_case(s, employee, url="https://www.facebook.com/groups/1/posts/2").id, employee.id
    ev_id = make_done_evidence(runtime, case_id, employee_id, bundle=make_post_bundle(
        author_handle="@Jens.Hansen ", author_profile_url="https://www.facebook.com/Jens.Hansen",
        phash="8f3ca1b20f0f7e11", dhash="123456789abcdef0", text_sha256="c" * 64))
    with runtime.Session() as s:
        ev = s.get(Evidence, ev_id)
        assert (ev.author_handle, ev.author_profile_url) == ("@Jens.Hansen", "https://www.facebook.com/Jens.Hansen")
        assert (ev.hash_basis, ev.phash, ev.dhash, ev.text_sha256) == (
            "screenshot_post", "8f3ca1b20f0f7e11", "123456789abcdef0", "c" * 64)
        offender = s.execute(select(Offender)).scalar_one()
        assert (offender.platform, offender.handle, offender.created_by_id) == ("facebook", "jens.hansen", None)
        assert offender.profile_url == "https://www.facebook.com/Jens.Hansen"
        link = s.execute(select(CaseOffender)).scalar_one()
        assert (link.case_id, link.state, link.evidence_id, link.decided_by_id) == (case_id, "suggested", ev_id, None)
        events = s.execute(select(AuditEvent.action, AuditEvent.actor_id).where(
            AuditEvent.action.like("offender.%")).order_by(AuditEvent.id)).all()
        assert events == [("offender.create", None), ("offender.suggested", None)]


def test_the_same_author_in_two_cases_is_one_offender_and_a_dismissal_sticks(runtime):
    with runtime.transaction() as s:
        unit = make_unit(s)
        employee, leader = make_user(s, "employee", unit), make_user(s, "leader", unit)
        c1, c2 = make_case(s, employee).id, make_case(s, employee).id
        ids = employee.id, leader.id
    make_done_evidence(runtime, c1, ids[0], bundle=make_post_bundle(author_handle="Troll", platform="x"))
    make_done_evidence(runtime, c2, ids[0], bundle=make_post_bundle(author_handle="@troll", platform="x"))
    with runtime.transaction() as s:
        assert s.execute(select(Offender.handle)).scalars().all() == ["troll"]
        viewer = s.get(User, ids[1])
        [view] = offenders.offenders_on_case(s, s.get(Case, c1), viewer)
        assert (view.other_cases, [c.id for c in view.shown_cases]) == (1, [c2])
        link2 = s.execute(select(CaseOffender).where(CaseOffender.case_id == c2)).scalar_one()
        offenders.decide(s, s.get(Case, c2), link2.id, "dismissed", viewer)
    # a re-capture of the same author does not revive the dismissed suggestion
    make_done_evidence(runtime, c2, ids[0], bundle=make_post_bundle(author_handle="TROLL", platform="x"))
    with runtime.Session() as s:
        assert s.execute(select(CaseOffender.state).where(CaseOffender.case_id == c2)).scalar_one() == "dismissed"
        [view] = offenders.offenders_on_case(s, s.get(Case, c1), s.get(User, ids[1]))
        assert view.other_cases == 0


def test_an_employee_or_a_leader_of_another_unit_cannot_change_offenders_in_the_domain(runtime):
    from tracker.errors import DomainError, NotFound

    with runtime.transaction() as s:
        a, b = make_unit(s), make_unit(s)
        employee, other_leader = make_user(s, "employee", a), make_user(s, "leader", b)
        case = make_case(s, employee)
        with pytest.raises(DomainError) as exc:
            offenders.add_by_hand(s, case, employee, platform="x", handle="troll")
        assert exc.value.code == "not_allowed"
        with pytest.raises(NotFound):
            offenders.add_by_hand(s, case, other_leader, platform="x", handle="troll")


# -- through the web app --------------------------------------------------------------------------
class Org:
    """Unit A (employee, leader, AMR) and unit B (employee, leader), HR and admin; one author in both units."""

    def __init__(self, rt: Runtime):
        self.rt = rt
        self.app = create_app(runtime=rt)
        self.app.config.update(TESTING=True)
        with rt.transaction() as s:
            a, b = make_unit(s, "Jobcenter"), make_unit(s, "Borgerservice")
            people = {}
            for key, role, unit in [("employee", "employee", a), ("leader", "leader", a), ("amr", "amr", a),
                                    ("employee-b", "employee", b), ("leader-b", "leader", b),
                                    ("hr", "hr", None), ("admin", "admin", None)]:
                people[key] = make_user(s, role, unit, email=f"{key}@kommune.dk")
            self.people = {k: u.email for k, u in people.items()}
            self.ids = {k: u.id for k, u in people.items()}
            self.ref_a = make_case(s, people["employee"], url="https://x.com/troll/status/1").ref
            self.ref_b = make_case(s, people["employee-b"], url="https://x.com/troll/status/2").ref
            self.case_a = s.execute(select(Case.id).where(Case.ref == self.ref_a)).scalar_one()
            self.case_b = s.execute(select(Case.id).where(Case.ref == self.ref_b)).scalar_one()
        make_done_evidence(rt, self.case_a, self.ids["employee"], bundle=make_post_bundle(
            author_handle="@Troll", platform="x", phash="8f3ca1b20f0f7e11", dhash="123456789abcdef0",
            text_sha256="d" * 64))
        make_done_evidence(rt, self.case_b, self.ids["employee-b"], bundle=make_post_bundle(
            author_handle="troll", platform="x", phash="8f3ca1b20f0f7e13", dhash="123456789abcdef0",
            text_sha256="d" * 64))

    def client(self, key: str):
        client = csrf_login(self.app, self.people[key])
        client.get("/?lang=en")
        return client

    def link_id(self, case_id: int) -> int:
        with self.rt.Session() as s:
            return s.execute(select(CaseOffender.id).where(CaseOffender.case_id == case_id)).scalar_one()

    def offender_id(self) -> int:
        with self.rt.Session() as s:
            return s.execute(select(Offender.id).where(Offender.handle == "troll")).scalar_one()


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    rt = new_runtime(make_settings(tmp_path_factory.mktemp("offenders")))
    yield Org(rt)
    rt.close()


def page_of(client, url: str) -> str:
    resp = client.get(url)
    assert resp.status_code == 200, url
    return resp.get_data(as_text=True)


def test_a_leader_of_unit_b_sees_the_count_but_not_unit_as_case(org):
    page = page_of(org.client("leader-b"), f"/cases/{org.ref_b}")
    assert "@troll" in page and "This profile has also been seen in 1 other case." in page
    assert "(you do not have access to it)" in page
    assert org.ref_a not in page
    # the near-duplicate in unit A's case is counted, not named
    assert "1 similar capture is in a case you do not have access to." in page


def test_hr_sees_the_other_case_and_the_near_duplicate_with_the_text_verdict(org):
    page = page_of(org.client("hr"), f"/cases/{org.ref_b}")
    assert f'href="/cases/{org.ref_a}"' in page
    assert f'href="/cases/{org.ref_a}#evidence-' in page and "pHash 1, dHash 0" in page
    assert "The text is identical too: most likely the same post." in page


def test_the_employee_neither_sees_the_offender_nor_can_post_changes(org):
    client = org.client("employee")
    page = page_of(client, f"/cases/{org.ref_a}")
    assert "@troll" not in page and "/offenders/" not in page  # the calm page carries no offender profiling
    link = org.link_id(org.case_a)
    token = TOKEN.search(page).group(1)
    for url, data in [(f"/cases/{org.ref_a}/offenders/{link}/decision", {"state": "confirmed"}),
                      (f"/cases/{org.ref_a}/offenders", {"platform": "x", "handle": "someone"}),
                      (f"/cases/{org.ref_a}/offenders/{link}/profile", {"kind": "aggrieved_citizen"})]:
        assert client.post(url, data={"csrf_token": token, **data}).status_code == 404, url
    for key in ("amr", "admin"):
        other = org.client(key)
        assert other.post(f"/cases/{org.ref_a}/offenders/{link}/decision",
                          data={"csrf_token": token, "state": "confirmed"}).status_code in (400, 404)
    with org.rt.Session() as s:
        assert s.get(CaseOffender, link).state == "suggested"


def test_a_leader_cannot_touch_another_units_case_and_a_post_needs_the_csrf_token(org):
    client = org.client("leader-b")
    page = page_of(client, f"/cases/{org.ref_b}")
    token = TOKEN.search(page).group(1)
    link_a = org.link_id(org.case_a)
    assert client.post(f"/cases/{org.ref_a}/offenders/{link_a}/decision",
                       data={"csrf_token": token, "state": "dismissed"}).status_code == 404
    # a link of case A addressed through case B is no link of case B
    assert client.post(f"/cases/{org.ref_b}/offenders/{link_a}/decision",
                       data={"csrf_token": token, "state": "dismissed"}).status_code == 404
    assert client.post(f"/cases/{org.ref_b}/offenders/{org.link_id(org.case_b)}/decision",
                       data={"state": "confirmed"}).status_code == 400


def test_the_leader_confirms_sets_the_type_and_adds_a_profile_by_hand_all_audited(org):
    client = org.client("leader")
    page = page_of(client, f"/cases/{org.ref_a}")
    token = TOKEN.search(page).group(1)
    link = org.link_id(org.case_a)
    resp = client.post(f"/cases/{org.ref_a}/offenders/{link}/decision",
                       data={"csrf_token": token, "state": "confirmed"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/cases/{org.ref_a}#offenders")
    resp = client.post(f"/cases/{org.ref_a}/offenders/{link}/profile",
                       data={"csrf_token": token, "kind": "professional_querulant", "note": "Skriver om mange ansatte",
                             "display_name": "Trolden"}, follow_redirects=True)
    page = resp.get_data(as_text=True)
    assert "The professional querulant" in page and "Skriver om mange ansatte" in page and "Confirmed" in page
    resp = client.post(f"/cases/{org.ref_a}/offenders",
                       data={"csrf_token": token, "platform": "facebook", "handle": " @Anden.Profil ",
                             "profile_url": "javascript:alert(1)", "display_name": ""}, follow_redirects=True)
    assert "The profile address must start with http:// or https://." in resp.get_data(as_text=True)
    resp = client.post(f"/cases/{org.ref_a}/offenders",
                       data={"csrf_token": token, "platform": "facebook", "handle": " @Anden.Profil ",
                             "profile_url": "https://www.facebook.com/anden.profil", "display_name": "Anden"},
                       follow_redirects=True)
    assert "@anden.profil" in resp.get_data(as_text=True)
    with org.rt.Session() as s:
        troll = s.get(Offender, org.offender_id())
        assert troll.kind is OffenderKind.professional_querulant and troll.display_name == "Trolden"
        added = s.execute(select(Offender).where(Offender.handle == "anden.profil")).scalar_one()
        assert added.created_by_id == org.ids["leader"] and added.platform == "facebook"
        state = s.execute(select(CaseOffender.state).where(CaseOffender.offender_id == added.id)).scalar_one()
        assert state == "confirmed"
        actions = s.execute(select(AuditEvent.action).where(AuditEvent.case_id == org.case_a,
                                                            AuditEvent.actor_id == org.ids["leader"])).scalars().all()
        assert {"offender.confirmed", "offender.update", "offender.create", "offender.linked"} <= set(actions)


def test_the_offender_pages_show_each_role_what_it_may_see_and_log_the_view(org):
    oid = org.offender_id()
    hr_list = page_of(org.client("hr"), "/offenders")
    assert f'href="/offenders/{oid}"' in hr_list
    hr_page = page_of(org.client("hr"), f"/offenders/{oid}")
    assert org.ref_a in hr_page and org.ref_b in hr_page
    b_page = page_of(org.client("leader-b"), f"/offenders/{oid}")
    assert org.ref_b in b_page and org.ref_a not in b_page and "You have access to 1 of them." in b_page
    assert f'href="/offenders/{oid}"' in page_of(org.client("amr"), "/offenders")
    for key in ("employee", "admin"):
        client = org.client(key)
        assert client.get("/offenders").status_code == 404 and client.get(f"/offenders/{oid}").status_code == 404
    with org.rt.Session() as s:
        anden = s.execute(select(Offender.id).where(Offender.handle == "anden.profil")).scalar()
        views = s.execute(select(AuditEvent.actor_id).where(AuditEvent.action == "offender.view",
                                                            AuditEvent.object_id == str(oid))).scalars().all()
    assert org.ids["hr"] in views and org.ids["leader-b"] in views
    if anden is not None:  # only linked in unit A: unit B's leader gets a 404
        assert org.client("leader-b").get(f"/offenders/{anden}").status_code == 404
    assert org.client("hr").get("/offenders?page=2").status_code == 404


def test_the_offender_list_is_paginated(tmp_path):
    rt = new_runtime(make_settings(tmp_path))
    try:
        with rt.transaction() as s:
            unit = make_unit(s)
            employee, hr = make_user(s, "employee", unit), make_user(s, "hr", None)
            case = make_case(s, employee)
            for i in range(55):
                offenders.add_by_hand(s, case, hr, platform="x", handle=f"profil{i:02d}")
            email = hr.email
        app = create_app(runtime=rt)
        client = csrf_login(app, email)
        client.get("/?lang=en")
        first = client.get("/offenders").get_data(as_text=True)
        second = client.get("/offenders?page=2").get_data(as_text=True)
        assert "Page 1 of 2" in first and "@profil00" in first and "@profil54" not in first
        assert "Page 2 of 2" in second and "@profil54" in second and 'rel="prev"' in second
        assert client.get("/offenders?page=3").status_code == 404
    finally:
        rt.close()


# -- in a real browser ------------------------------------------------------------------------------
@pytest.mark.browser
def test_the_case_page_with_a_suggested_offender_and_a_near_duplicate_passes_axe(org):
    from playwright.sync_api import expect

    with served(org.app) as base, open_browser() as browser:
        for name, page in each_viewport(browser):
            log_in(page, base, org.people["leader-b"])
            page.goto(f"{base}/cases/{org.ref_b}")
            expect(page.locator("#offenders")).to_contain_text("@troll")
            expect(page.locator(".similar")).to_be_visible()
            page.locator("#offenders details summary").first.click()
            screenshot(page, f"offenders-case-{name}")
            screenshot(page.locator("#offenders"), f"offenders-section-{name}")
            screenshot(page.locator(".similar").first, f"similar-section-{name}")
            assert_fits_the_width(page, name)
            assert_no_serious_axe_findings(page, name)
            page.goto(f"{base}/offenders/{org.offender_id()}")
            screenshot(page, f"offender-page-{name}")
            assert_no_serious_axe_findings(page, f"{name} offender page")
            page.goto(f"{base}/offenders")
            screenshot(page, f"offenders-list-{name}")
            assert_fits_the_width(page, f"{name} offender list")
            assert_no_serious_axe_findings(page, f"{name} offender list")
        # HR sees the look-alike in unit A's case by name, with the text verdict
        page = new_page(browser, timeout_ms=30_000)
        log_in(page, base, org.people["hr"])
        page.goto(f"{base}/cases/{org.ref_b}")
        expect(page.locator(".similar-list a")).to_contain_text(org.ref_a)
        screenshot(page.locator(".similar").first, "similar-section-hr")
        screenshot(page.locator("#offenders"), "offenders-section-hr")
        assert_no_serious_axe_findings(page, "hr")
        page.context.close()
