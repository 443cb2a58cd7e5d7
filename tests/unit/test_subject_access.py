"""The right of access (GDPR art. 15, issue 16.4): what Værn gathers about one employee, what it leaves out of
others' data, when each case is due for erasure, and who may ask for a package (no Chromium: the PDF's HTML)."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from storage.models import Artifact, AuditEvent, Case, Evidence, EvidenceState, Role, User
from storage.types import utcnow
from tests.support.database import new_runtime
from tests.support.factories import CSRF_TOKEN, csrf_login, make_case, make_done_evidence, make_settings, make_unit, \
    make_user
from tracker.accounts import admin
from tracker.cases.hold import hold_case
from tracker.cases.lifecycle import close_case
from tracker.errors import NotFound
from tracker.oversight import audit
from tracker.oversight import offenders as offender_ops
from tracker.privacy.subject_access import ACCOUNT, ACTOR, OWN_CASE, SCHEMA, find_subject
from tracker.packaging import subject_jobs
from tracker.packaging.subject_export import TITLE, gather_for, json_bytes, subject_html
from tracker.workflow import letters as letter_ops
from tracker.workflow.rules import load_rules
from webui.app import create_app


class World:
    """Mette (employee) with one case of her own and one she reported for Kim; Lone leads; Hanne is HR."""

    def __init__(self, rt):
        self.rt = rt
        with rt.transaction() as s:
            unit = make_unit(s, "Jobcenter")
            mette = make_user(s, Role.employee, unit, email="mette@kommune.dk", name="Mette Jensen")
            kim = make_user(s, Role.employee, unit, name="Kim Kollega")
            lone = make_user(s, Role.leader, unit, name="Lone Leder")
            hanne = make_user(s, Role.hr, name="Hanne HR", email="hanne@kommune.dk")
            own = make_case(s, mette, description="Trusler mod mig i kommentarfeltet")
            for_kim = make_case(s, mette, description="Kim bliver hængt ud")
            for_kim.employee_id = kim.id  # Mette reported it; the case is Kim's
            s.flush()
            self.ids = {"mette": mette.id, "kim": kim.id, "lone": lone.id, "hanne": hanne.id}
            self.own, self.for_kim = own.id, for_kim.id
        self.evidence = make_done_evidence(rt, self.own, self.ids["mette"])
        self.kim_evidence = make_done_evidence(rt, self.for_kim, self.ids["mette"])
        with rt.transaction() as s:
            lone, own = s.get(User, self.ids["lone"]), s.get(Case, self.own)
            self.letter = letter_ops.create_letter(s, lone, own, "request_to_author", rules=load_rules()).id
            offender_ops.add_by_hand(s, own, lone, platform="facebook", handle="@vred.borger",
                                     display_name="Vred Borger")
            audit.record(s, lone, "case.view", "case", own.ref, own.id)
            audit.record(s, s.get(User, self.ids["mette"]), "case.view", "case", "X", self.for_kim, note="om Kim")
            audit.record(s, lone, "case.view", "case", "X", self.for_kim)  # someone else's case, someone else
            admin.update_user(s, None, s.get(User, self.ids["mette"]), name="Mette K. Jensen", role=Role.employee,
                              unit_id=own.unit_id, active=True)

    def document(self):
        with self.rt.Session() as s:
            return gather_for(self.rt, s, s.get(User, self.ids["mette"]), utcnow())


@pytest.fixture
def runtime(tmp_path):
    rt = new_runtime(make_settings(tmp_path / "data"))
    yield rt
    rt.close()


@pytest.fixture
def world(runtime):
    """A world of its own, for a test that changes it."""
    return World(runtime)


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One world for the tests that only read it."""
    rt = new_runtime(make_settings(tmp_path_factory.mktemp("subject") / "data"))
    yield World(rt)
    rt.close()


def test_her_own_cases_evidence_with_hashes_and_letters_are_gathered(shared):
    access = shared.document()
    doc = access.document
    with shared.rt.Session() as s:  # the same database and time: the same bytes
        again = gather_for(shared.rt, s, s.get(User, shared.ids["mette"]), datetime.fromisoformat(doc["exported_at"]))
    assert json_bytes(again.document) == json_bytes(doc) and again.files == access.files
    assert doc["schema"] == SCHEMA and doc["subject"]["email"] == "mette@kommune.dk"
    [case] = doc["cases"]
    with shared.rt.Session() as s:
        own = s.get(Case, shared.own)
        arts = list(s.execute(select(Artifact).where(Artifact.evidence_id == shared.evidence)).scalars())
        assert case["ref"] == own.ref and case["description"] == "Trusler mod mig i kommentarfeltet"
    ev = next(e for e in case["evidence"] if e["id"] == shared.evidence)
    assert [e["state"] for e in case["evidence"] if e["id"] != shared.evidence] == ["queued"]  # the case's own URL
    assert {(f["name"], f["sha256"]) for f in ev["files"]} == {(a.name, a.sha256) for a in arts}
    assert {(f.path, f.sha256) for f in access.files} == {
        (f"cases/{case['ref']}/evidence/{shared.evidence}/{a.name}", a.sha256) for a in arts}
    [letter] = case["letters"]
    assert letter["id"] == shared.letter and letter["state"] == "draft" and letter["body"]
    assert letter["recipient_da"] == "opslagets ophavsmand"
    assert case["offender_profiles_linked"] == 1
    assert "vred.borger" not in str(doc) and "Vred Borger" not in str(doc)  # the register's profile: art. 15(4)


def test_a_case_she_reported_for_a_colleague_is_listed_without_its_content(shared):
    doc = shared.document().document
    with shared.rt.Session() as s:
        kim_ref = s.get(Case, shared.for_kim).ref
    assert doc["cases_reported_for_others"] == [
        {"ref": kim_ref, "reported_at": doc["cases_reported_for_others"][0]["reported_at"],
         "content": "withheld_other_persons_case"}]
    assert "Kim bliver hængt ud" not in str(doc)
    assert all(e["id"] != shared.kim_evidence for c in doc["cases"] for e in c["evidence"])


def test_the_events_about_her_are_hers_those_on_her_cases_and_those_on_her_account(shared):
    events = shared.document().document["audit_events"]
    with shared.rt.Session() as s:
        everything = list(s.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars())
    by_id = {e.id: e for e in everything}
    mette, lone = shared.ids["mette"], shared.ids["lone"]
    for e in events:
        row = by_id[e["id"]]
        assert e["hash"] == row.hash and e["prev_hash"] == row.prev_hash
        expected = [r for r, hit in ((ACTOR, row.actor_id == mette), (OWN_CASE, row.case_id == shared.own),
                                     (ACCOUNT, row.object_type == "user" and row.object_id == str(mette))) if hit]
        assert e["reasons"] == expected and expected
    listed = {e["id"] for e in events}
    left_out = [e for e in everything if e.id not in listed]
    assert any(e.case_id == shared.for_kim and e.actor_id == lone for e in left_out)
    leader_view = next(e for e in events if e["action"] == "case.view" and e["actor"] and e["actor"]["id"] == lone)
    assert leader_view["actor"] == {"id": lone, "name": "Lone Leder", "role": "leader"}
    assert leader_view["text_da"] and leader_view["reasons"] == [OWN_CASE]
    on_kims = next(e for e in events if e["action"] == "case.view" and e["details_withheld"])
    assert on_kims["withheld_because"] == "other_persons_case" and on_kims["details"] is None and on_kims["case_ref"] is None and on_kims["text_da"] is None
    assert on_kims["reasons"] == [ACTOR]
    assert any(e["action"] == "user.update" and e["reasons"] == [ACCOUNT] for e in events)
    linked = next(e for e in events if e["action"] == "offender.linked")
    assert linked["reasons"] == [OWN_CASE] and linked["withheld_because"] == "offender_register"
    assert linked["details"] is None and linked["case_ref"] is not None


def test_each_case_says_when_it_is_due_for_erasure(world, runtime):
    assert world.document().document["cases"][0]["retention"] == {
        "state": "open", "rule": "closed_case", "keep_after_closing_days": 5 * 365 + 1,
        "keep_after_closing_years": 5}
    with runtime.transaction() as s:
        own = s.get(Case, world.own)
        close_case(s, own, s.get(User, world.ids["lone"]), "Fjernet")
        closed_at = own.closed_at
    retention = world.document().document["cases"][0]["retention"]
    assert retention == {"state": "closed", "rule": "closed_case",
                         "due_at": (closed_at + timedelta(days=5 * 365 + 1)).isoformat()}
    with runtime.transaction() as s:
        hold_case(s, s.get(Case, world.own), s.get(User, world.ids["hanne"]), "Retssag BS-1/2026")
    assert world.document().document["cases"][0]["retention"]["state"] == "legal_hold"


def test_the_summary_is_danish_and_says_what_was_left_out(shared):
    access = shared.document()
    html = subject_html(shared.rt, access, utcnow())
    assert TITLE in html and "Indsigt efter databeskyttelsesforordningens artikel 15" in html
    for heading in ("Hvad Værn har om dig", "Formål", "Hvem oplysningerne er givet til", "Hvor længe",
                    "Hvor oplysningerne kommer fra", "Andres oplysninger (artikel 15, stk. 4)", "Dine rettigheder"):
        assert heading in html
    assert "Lukkede sager slettes 5 år efter lukning" in html  # the retention rules in force
    assert "Krænkerregistrets profil" in html and "vred.borger" not in html


def test_only_hr_asks_for_a_package_and_only_the_asker_sees_and_downloads_it(world, runtime):
    with runtime.transaction() as s:
        mette, hanne = s.get(User, world.ids["mette"]), s.get(User, world.ids["hanne"])
        with pytest.raises(NotFound):
            subject_jobs.request_subject_export(s, s.get(User, world.ids["lone"]), mette)
        job = subject_jobs.request_subject_export(s, hanne, mette).id
        other_hr = make_user(s, Role.hr, name="Anden HR")
        other_hr_id = other_hr.id
    with runtime.transaction() as s:
        hanne = s.get(User, world.ids["hanne"])
        [listed] = subject_jobs.jobs_for(runtime, s, hanne)
        assert (listed.id, listed.state, listed.subject.id) == (job, "queued", world.ids["mette"])
        assert subject_jobs.jobs_for(runtime, s, s.get(User, other_hr_id)) == []
        with pytest.raises(NotFound):  # not built yet
            subject_jobs.take_file(runtime, s, hanne, job)
        with pytest.raises(NotFound):  # not theirs
            subject_jobs.take_file(runtime, s, s.get(User, other_hr_id), job)
        event = s.get(AuditEvent, job)
        assert (event.actor_id, event.action, event.object_type, event.object_id) == (
            world.ids["hanne"], "subject.export_requested", "user", str(world.ids["mette"]))


def test_a_person_is_found_by_email_in_any_case_and_an_unknown_one_is_not_found(shared):
    with shared.rt.Session() as s:
        assert find_subject(s, "  METTE@kommune.dk ").id == shared.ids["mette"]
        with pytest.raises(NotFound):
            find_subject(s, "nobody@kommune.dk")


def test_evidence_that_was_not_secured_is_listed_without_files(world, runtime):
    with runtime.transaction() as s:
        s.get(Evidence, world.evidence).state = EvidenceState.failed
    access = world.document()
    ev = next(e for e in access.document["cases"][0]["evidence"] if e["id"] == world.evidence)
    assert ev["state"] == "failed" and all(f["path"] is None for f in ev["files"]) and access.files == ()


def test_the_sweep_enqueues_a_lost_request_again_and_removes_expired_packages(world, runtime):
    with runtime.transaction() as s:
        mette, hanne = s.get(User, world.ids["mette"]), s.get(User, world.ids["hanne"])
        lost, old = (subject_jobs.request_subject_export(s, hanne, mette).id for _ in range(2))
    with runtime.transaction() as s:  # as if asked a while ago: the first never reached a worker
        s.get(AuditEvent, lost).at = utcnow() - subject_jobs.REQUEUE_AFTER - timedelta(seconds=30)
        s.get(AuditEvent, old).at = utcnow() - subject_jobs.KEEP_FOR - timedelta(hours=1)
    folder = subject_jobs.root(runtime) / str(old)
    folder.mkdir(parents=True)
    (folder / "result.json").write_text("{}")
    before = runtime.huey.pending_count()
    assert subject_jobs.sweep(runtime) == 1
    assert runtime.huey.pending_count() == before + 1
    assert not folder.exists()
    assert subject_jobs.run_subject_job(runtime, old) == "skipped"  # expired: never built


def test_hrs_page_says_in_danish_when_a_package_failed_and_refuses_an_empty_choice(world, runtime):
    with runtime.transaction() as s:
        job = subject_jobs.request_subject_export(s, s.get(User, world.ids["hanne"]), s.get(User, world.ids["mette"])).id
    subject_jobs.root(runtime).mkdir(parents=True, exist_ok=True)
    (subject_jobs.root(runtime) / f"{job}.failed").write_text("blob_corrupt: cases/V/evidence/1/page.html: changed")
    client = csrf_login(create_app(runtime=runtime), "hanne@kommune.dk")
    page = client.get("/hr/subject-access").get_data(as_text=True)
    assert "Værn kunne ikke danne pakken; bestil en ny." in page and "<code>blob_corrupt</code>" in page
    assert "changed" not in page  # the English details stay in the audit log
    token = CSRF_TOKEN.search(page).group(1)
    refused = client.post("/hr/subject-access", data={"person": "", "csrf_token": token})
    assert refused.status_code == 400 and "Vælg en person på listen." in refused.get_data(as_text=True)
