"""HR's read-only pages: case search (filters, Danish full-text search, keyset pages), a case's full
history with every view, the audit log; only HR reaches them; fast with 50,000 cases; axe in Chromium."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from capture.bundle import Artifact as BundleArtifact
from capture.bundle import EvidenceBundle
from storage.models import AuditEvent, CaseOffender, CaseText, Offender, User
from tests.support.browser import assert_fits_the_width, assert_no_serious_axe_findings, each_viewport, log_in, open_browser, \
    screenshot, served
from tests.support.factories import csrf_login, make_case, make_done_evidence, make_settings, make_unit, make_user
from tests.support.hr_data import audit_queries, case_queries, fill
from tests.support.database import new_runtime
from tracker.oversight import history
from tracker.oversight import search
from tracker.errors import NotFound
from tracker.adapters.runtime import Runtime
from webui.app import create_app

CAPTURED = "Borgeren skriver: Sagsbehandleren er en SKÆNDSEL for kommunen. Åbenlyst løgn om min familie."
HOSTILE = ['"', "'", 'x" OR 1=1 --', "skændsel*", "NEAR(a b)", "body:løgn", "-", "AND OR NOT", "(", ")",
           "^", "'; DROP TABLE cases; --", "%", "_", "\\", "\x00", "ÆØÅ & | ! :*", "a" * 5000, "🙂 løgn", "{}[]"]


def text_bundle(body: str) -> EvidenceBundle:
    arts = [BundleArtifact("text.txt", "text", "text/plain; charset=utf-8", body.encode())]
    return EvidenceBundle.seal("ok", arts, {"schema": "vaern.manifest/1", "kind": "url"})


class Org:
    """Two units, one person per role, three cases with categories, platforms, offenders and captured text."""

    def __init__(self, rt: Runtime):
        self.rt = rt
        self.app = create_app(runtime=rt)
        self.app.config.update(TESTING=True)
        with rt.transaction() as s:
            a, b = make_unit(s, "Jobcenter"), make_unit(s, "Borgerservice")
            self.unit_a, self.unit_b = a.id, b.id
            people = [("employee-a", "employee", a, "Mette Jensen"), ("employee-b", "employee", b, "Søren Ærø"),
                      ("leader-a", "leader", a, "Lone Leder"), ("amr-a", "amr", a, "Anders AMR"),
                      ("admin-a", "admin", a, "Ada Admin"), ("hr-b", "hr", b, "Hanne HR")]
            users = {key: make_user(s, role, unit, email=f"{key}@kommune.dk", name=name)
                     for key, role, unit, name in people}
            self.people = {key: u.email for key, u in users.items()}
            threat = make_case(s, users["employee-a"], url="https://www.facebook.com/opslag/1",
                               description="Trusler i kommentarfeltet")
            threat.category = "digital_threat"
            house = make_case(s, users["employee-b"], url="https://x.com/hadeside/status/2",
                              description="Billede af mit hus på en hadeside")
            house.category, house.status = "digital_harassment", "closed"
            bullying = make_case(s, users["employee-a"], url="https://example.org/gruppe",
                                 description="Mobning i gruppen")
            angry = Offender(platform="facebook", handle="vred_borger", display_name="Vred Ålborgenser")
            s.add(angry)
            s.flush()
            s.add_all([CaseOffender(case_id=threat.id, offender_id=angry.id, state="confirmed"),
                       CaseOffender(case_id=house.id, offender_id=angry.id, state="dismissed")])
            self.threat, self.house, self.bullying = threat.ref, house.ref, bullying.ref
            self.threat_id, employee_a = threat.id, users["employee-a"].id
        make_done_evidence(self.rt, self.threat_id, employee_a, bundle=text_bundle(CAPTURED))

    def client(self, key: str | None = None, lang: str = "en"):
        """Signed in as ``key``; in English unless told, so new texts are checked before their Danish is merged."""
        client = csrf_login(self.app, self.people[key]) if key else self.app.test_client()
        client.get(f"/login?lang={lang}")
        return client


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    rt = new_runtime(make_settings(tmp_path_factory.mktemp("hr-pages")))
    yield Org(rt)
    rt.close()


def refs(page: str) -> list[str]:
    return re.findall(r'<th scope="row"><a href="/cases/([^"]+)">', page)


def audit_count(org: Org, action: str) -> int:
    with org.rt.Session() as s:
        return s.execute(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)).scalar()


# -- who may use the pages --------------------------------------------------------------------------
PAGES = ["/hr/cases", "/hr/cases/{ref}/history", "/hr/audit"]


@pytest.mark.parametrize("key", ["employee-a", "leader-a", "amr-a", "admin-a"])
def test_every_role_but_hr_gets_404_on_the_three_pages(org, key):
    client = org.client(key)
    for page in PAGES:
        assert client.get(page.format(ref=org.threat)).status_code == 404, page


def test_someone_not_signed_in_is_sent_to_the_login_page(org):
    for page in PAGES:
        resp = org.client().get(page.format(ref=org.threat))
        assert resp.status_code == 302 and "/login" in resp.headers["Location"], page


def test_hr_of_one_unit_sees_the_cases_of_every_unit(org):
    page = org.client("hr-b").get("/hr/cases").get_data(as_text=True)
    assert set(refs(page)) == {org.threat, org.house, org.bullying}
    assert "3 cases found" in page


def test_a_case_that_does_not_exist_has_no_history_page(org):
    assert org.client("hr-b").get("/hr/cases/V-1999-99999/history").status_code == 404


# -- the filters ------------------------------------------------------------------------------------
def test_each_filter_narrows_the_search_to_the_matching_cases(org):
    client = org.client("hr-b")
    cases = {
        "employee=ærø": {org.house}, "employee=mette": {org.threat, org.bullying},
        "employee=employee-a%40kommune": {org.threat, org.bullying},
        f"unit={org.unit_b}": {org.house},
        "offender=vred_borger": {org.threat},  # the link to the house case was dismissed
        "offender=%40VRED_BORGER": {org.threat}, "offender=ålborg": {org.threat},
        "platform=x": {org.house}, "platform=facebook": {org.threat},
        "category=digital_threat": {org.threat}, "category=none": {org.bullying},
        "status=closed": {org.house}, "status=open": {org.threat, org.bullying},
        "from=2000-01-01&to=2001-12-31": set(),
        f"from={datetime.now().date()}&to={datetime.now().date() + timedelta(days=1)}":
            {org.threat, org.house, org.bullying},
        "q=skændsel": {org.threat}, "q=ÅBENLYST+løgn": {org.threat}, "q=sagsbeh": {org.threat},
        "q=hadeside": {org.house}, "q=mobning": {org.bullying}, "q=løgn+hadeside": set(),
        "q=familie&status=open&category=digital_threat": {org.threat},
    }
    for query, expected in cases.items():
        resp = client.get(f"/hr/cases?{query}")
        assert resp.status_code == 200, query
        assert set(refs(resp.get_data(as_text=True))) == expected, query


def test_hostile_search_text_never_breaks_the_query(org):
    client = org.client("hr-b")
    for text in HOSTILE:
        resp = client.get("/hr/cases", query_string={"q": text, "employee": text, "offender": text})
        assert resp.status_code == 200, repr(text)
        body = resp.get_data(as_text=True).split("</header>")[1]
        assert not re.search(r"<script(?! src=\"/static/[a-z]+\.js\")", body), repr(text)  # only our own scripts


def test_search_text_becomes_plain_words_only():
    assert search.text_terms('x" OR body:løgn NEAR(a*') == ["x", "or", "body", "løgn", "near", "a"]
    assert search.text_terms("ÆBLE æble") == ["æble"]
    assert len(search.text_terms(" ".join(f"ord{i}" for i in range(50)))) == search.MAX_TERMS


def test_a_bad_date_or_unit_is_said_in_danish_and_searches_nothing(org):
    page = org.client("hr-b").get("/hr/cases?from=31.12&unit=abc").get_data(as_text=True)
    assert "The date could not be read" in page and 'aria-invalid="true"' in page
    assert refs(page) == []


def test_the_search_is_recorded_in_the_audit_log_with_its_filters(org):
    before = audit_count(org, "case.search")
    org.client("hr-b").get("/hr/cases?q=skændsel&status=open")
    with org.rt.Session() as s:
        ev = s.execute(select(AuditEvent).where(AuditEvent.action == "case.search")
                       .order_by(AuditEvent.id.desc())).scalars().first()
    assert audit_count(org, "case.search") == before + 1
    assert ev.details["q"] == "skændsel" and ev.details["status"] == "open" and ev.details["found"] == 1


def test_search_works_the_same_on_sqlite_and_postgresql(runtime):
    """Danish words with æøå, prefixes, offenders and hostile text, through the tracker on both databases."""
    with runtime.transaction() as s:
        unit = make_unit(s)
        employee = make_user(s, "employee", unit, name="Åse Ærenlund")
        hr = make_user(s, "hr", unit)
        case = make_case(s, employee, description="Grove trusler på Facebook")
        other = make_case(s, employee, description="Noget helt andet")
        case_id, employee_id, hr_id, ref, other_ref = case.id, employee.id, hr.id, case.ref, other.ref
    make_done_evidence(runtime, case_id, employee_id, bundle=text_bundle(CAPTURED))
    with runtime.Session() as s:
        hr = s.get(User, hr_id)

        def found(**f) -> set[str]:
            return {c.ref for c in search.search_cases(s, hr, search.CaseFilters(**f)).cases}

        assert found(text="skændsel") == {ref} == found(text="SKÆNDSEL") == found(text="åbenlyst")
        assert found(text="trus") == {ref} and found(text="kommunen familie") == {ref}
        assert found(text="andet") == {other_ref} and found(text="skændsel andet") == set()
        assert found(employee="ÅSE") == {ref, other_ref} == found(employee="ærenlund")
        for text in HOSTILE:
            found(text=text, employee=text, offender=text)  # no error
        assert "skændsel" in s.get(CaseText, case_id).body.lower()


def test_reindex_rebuilds_the_searchable_text_of_captures_stored_before_the_index(runtime):
    """An upgraded installation: the capture's text is in the blob store but not in case_texts yet."""
    with runtime.transaction() as s:
        unit = make_unit(s)
        employee = make_user(s, "employee", unit)
        hr_id = make_user(s, "hr", unit).id
        case = make_case(s, employee, description="Grove trusler")
        case_id, employee_id, ref = case.id, employee.id, case.ref
    make_done_evidence(runtime, case_id, employee_id, bundle=text_bundle(CAPTURED))
    with runtime.transaction() as s:  # as before migration 0004: nothing indexed
        s.execute(CaseText.__table__.delete())

    def found(text: str) -> set[str]:
        with runtime.Session() as s:
            return {c.ref for c in search.search_cases(s, s.get(User, hr_id), search.CaseFilters(text=text)).cases}

    assert found("skændsel") == set() == found("trusler")
    assert search.reindex_case_texts(runtime, batch=1) >= 1
    assert found("skændsel") == {ref} == found("trusler")
    assert search.reindex_case_texts(runtime) >= 1  # running it again changes nothing
    with runtime.Session() as s:
        assert s.get(CaseText, case_id).body.count("Grove trusler") == 1


def test_the_searchable_text_is_bounded_and_a_repeated_capture_is_kept_once(runtime):
    with runtime.transaction() as s:
        unit = make_unit(s)
        case = make_case(s, make_user(s, "employee", unit), description="Start")
        search.add_case_text(s, case.id, "samme tekst")
        search.add_case_text(s, case.id, "samme tekst")
        assert s.get(CaseText, case.id).body.count("samme tekst") == 1
        search.add_case_text(s, case.id, "ø" * (search.MAX_BODY_CHARS + 10))
        search.add_case_text(s, case.id, "efter grænsen")
        s.expire_all()
        body = s.get(CaseText, case.id).body
    assert len(body) == search.MAX_BODY_CHARS and body.startswith("Start") and "efter" not in body


def test_pages_follow_each_other_without_gaps_or_repeats(runtime):
    with runtime.transaction() as s:
        unit = make_unit(s)
        hr, employee = make_user(s, "hr", unit), make_user(s, "employee", unit)
        made = [make_case(s, employee, description=f"Sag nummer {i} med chikane").ref for i in range(23)]
        hr_id = hr.id
    with runtime.Session() as s:
        hr = s.get(User, hr_id)
        seen, after, totals = [], None, []
        while True:
            page = search.search_cases(s, hr, search.CaseFilters(text="chikane"), after=after, per_page=10)
            seen += [c.ref for c in page.cases]
            totals.append(page.total)
            if page.next_after is None:
                break
            after = page.next_after
    assert seen == list(reversed(made))  # newest first, each once
    assert totals == [23, None, None]


# -- a case's full history and the audit log --------------------------------------------------------
def test_the_full_history_shows_every_event_and_who_viewed_the_case(org):
    org.client("leader-a").get(f"/cases/{org.threat}")  # a view by the leader
    client = org.client("hr-b")
    before = audit_count(org, "case.history_view")
    page = client.get(f"/hr/cases/{org.threat}/history").get_data(as_text=True)
    assert audit_count(org, "case.history_view") == before + 1
    for words in ("Case opened", "Evidence secured", "Lone Leder", "(Leader)", "Værn (automatic)", "viewed",
                  "Full history viewed", "Hanne HR"):
        assert words in page, words
    assert page.index("Case opened") < page.index("Lone Leder")  # oldest first
    assert f'href="/cases/{org.threat}"' in page


def test_hr_finds_the_full_history_link_on_the_case_page_and_a_leader_does_not(org):
    link = f'href="/hr/cases/{org.threat}/history"'
    assert link in org.client("hr-b").get(f"/cases/{org.threat}").get_data(as_text=True)
    assert link not in org.client("leader-a").get(f"/cases/{org.threat}").get_data(as_text=True)


def test_the_audit_log_filters_and_records_one_view_per_request(org):
    org.client("leader-a").get(f"/cases/{org.threat}")
    client = org.client("hr-b")
    before = audit_count(org, "audit.view")
    page = client.get(f"/hr/audit?case={org.threat}&action=case.create").get_data(as_text=True)
    assert audit_count(org, "audit.view") == before + 1
    rows = re.findall(r"<tr>\s*<td data-label=\"No.\">", page)
    assert len(rows) == 1 and "Case opened" in page and "Mette Jensen" in page
    with org.rt.Session() as s:
        created = s.execute(select(AuditEvent).where(AuditEvent.action == "case.create",
                                                     AuditEvent.case_id == org.threat_id)).scalar_one()
    assert f">{created.hash[:12]}</code>" in page
    assert f'<a class="case-ref" href="/hr/cases/{org.threat}/history">{org.threat}</a>' in page
    views = client.get("/hr/audit?action=audit.view").get_data(as_text=True)  # no object id: no stray "-"
    assert '<td data-label="Object">Audit log</td>' in views and '<span class="meta">-</span>' not in views
    system = client.get("/hr/audit?system=1").get_data(as_text=True)
    assert "Evidence secured" in system and "Mette Jensen" not in system.split("</form>")[-1]
    actor = client.get("/hr/audit?actor=lone").get_data(as_text=True).split("</form>")[-1]
    assert "Lone Leder" in actor and "Mette Jensen" not in actor
    assert "No events match" in client.get("/hr/audit?from=2001-01-01&to=2001-01-02").get_data(as_text=True)
    assert client.get("/hr/audit?from=nonsense").status_code == 200


def test_the_audit_log_pages_newest_first_by_id(runtime):
    with runtime.transaction() as s:
        unit = make_unit(s)
        hr, employee = make_user(s, "hr", unit), make_user(s, "employee", unit)
        for i in range(7):
            make_case(s, employee, description=f"{i}")
        hr_id, employee_id = hr.id, employee.id
    with runtime.Session() as s:
        hr = s.get(User, hr_id)
        first = history.audit_log(s, hr, history.AuditFilters(action="case.create"), per_page=4)
        second = history.audit_log(s, hr, history.AuditFilters(action="case.create"), before=first.next_cursor,
                                   per_page=4)
        ids = [e.event.id for e in first.entries + second.entries]
        assert ids == sorted(ids, reverse=True) and len(ids) == 7 and second.next_cursor is None
        assert "case.create" in history.audit_actions(s)
        with pytest.raises(NotFound):
            history.audit_log(s, s.get(User, employee_id), history.AuditFilters())


# -- 50,000 cases -----------------------------------------------------------------------------------
#: the index each filter's query must use (EXPLAIN QUERY PLAN)
INDEX_OF = {"status": "ix_cases_status", "unit": "ix_cases_unit_id",
            "category+status": "ix_cases_category", "platform": "ix_cases_platform",
            "offender": "ix_case_offenders_offender_", "period": "ix_cases_created_at",
            "text common": "case_text_fts VIRTUAL TABLE", "text rare": "case_text_fts VIRTUAL TABLE",
            "all filters": "case_text_fts VIRTUAL TABLE", "text+unit+status": "ix_cases_unit_status"}


def test_every_search_uses_its_index_and_pages_with_fifty_thousand_cases(tmp_path):
    """Bulk-inserted with SQLAlchemy core; each filter's first and second page and the audit filters.

    How fast they answer is benchmarks/hr_search.py's business (no wall-clock asserts in the tests).
    """
    rt = new_runtime(make_settings(tmp_path))
    try:
        with rt.Session() as s:
            keys = fill(s, 50_000)
            hr = make_user(s, "hr", None)
            s.commit()
            plans = {}
            for name, filters in case_queries(keys).items():
                sql = search.search_ids_query(s, hr, filters).limit(51).compile(
                    rt.engine, compile_kwargs={"literal_binds": True})
                plans[name] = " | ".join(str(r[-1]) for r in s.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
                first = search.search_cases(s, hr, filters)
                if first.next_after:
                    second = search.search_cases(s, hr, filters, after=first.next_after)
                    assert not {c.id for c in first.cases} & {c.id for c in second.cases}, name
            for name, index in INDEX_OF.items():
                assert index in plans[name], (name, plans[name])
            for name, filters in audit_queries(keys).items():
                page = history.audit_log(s, hr, filters)
                history.audit_log(s, hr, filters, before=page.next_cursor)
            s.rollback()
        assert first.cases and keys
    finally:
        rt.close()


# -- in a real browser ------------------------------------------------------------------------------
@pytest.mark.browser
def test_the_three_hr_pages_in_a_browser_pass_axe(org):
    from playwright.sync_api import expect

    with served(org.app) as base, open_browser() as browser:
        for name, page in each_viewport(browser):
            log_in(page, base, org.people["hr-b"], lang="en")  # English until the Danish of the new texts is merged
            page.get_by_role("link", name="Search cases").click()
            page.get_by_label("Words in the text").fill("skændsel")
            page.get_by_label("Status").select_option("open")
            page.get_by_role("button", name="Search", exact=True).click()
            expect(page.locator("table.hr-results tbody tr")).to_have_count(1)
            pages = {"search": page.url}
            page.get_by_role("link", name=f"Full history {org.threat}").click()
            expect(page.locator("h1")).to_contain_text(org.threat)
            pages["history"] = page.url
            page.get_by_role("link", name="Audit log", exact=True).click()
            expect(page.locator("table.audit-log")).to_be_visible()
            pages["audit"] = page.url
            for key, url in pages.items():
                page.goto(url)
                screenshot(page, f"hr-{key}-{name}")
                assert_no_serious_axe_findings(page, f"{key} {name}")
                if name == "phone":
                    assert_fits_the_width(page, key)


@pytest.mark.parametrize("window, share", [(1, 2.0), (10_000, 0.5)])
def test_both_text_search_shapes_find_the_same_cases_page_by_page(runtime, monkeypatch, window, share):
    """PostgreSQL checks a common query case by case and a rare one through the index: same answer."""
    monkeypatch.setattr(search, "PG_WINDOW", window)
    monkeypatch.setattr(search, "PG_COMMON_SHARE", share)
    with runtime.transaction() as s:
        unit = make_unit(s)
        hr, employee = make_user(s, "hr", unit), make_user(s, "employee", unit)
        made = [make_case(s, employee, description=f"Sag {i} med {'chikane' if i % 3 else 'trusler'}") for i in range(14)]
        wanted = [c.ref for c in reversed(made) if c.description.endswith("chikane")]
        threats = [c.ref for c in reversed(made) if c.description.endswith("trusler")]
        hr_id = hr.id
    with runtime.Session() as s:
        hr = s.get(User, hr_id)
        seen, after = [], None
        while True:
            page = search.search_cases(s, hr, search.CaseFilters(text="chika"), after=after, per_page=4)
            seen += [c.ref for c in page.cases]
            if page.next_after is None:
                break
            after = page.next_after
        assert seen == wanted
        assert [c.ref for c in search.search_cases(s, hr, search.CaseFilters(text="trus", status="open")).cases] == threats
        assert search.search_cases(s, hr, search.CaseFilters(text="chikane trusler")).cases == []
