"""Retention (issue 16) on real data, SQLite and PostgreSQL: as-of dates, a legal hold, erasure checked on disk,
`vaern verify` green afterwards, and the MED statistics unchanged by erasure."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select, text

from storage.models import (Artifact, AuditEvent, Case, CaseOffender, CaseText, Evidence, Letter, Offender, Role,
                            StepAttachment, User)
from storage.types import utcnow
from tests.support.factories import (make_bundle, make_case, make_done_evidence, make_post_bundle, make_unit, make_user,
                                     png_bytes)
from tests.support.statistics_data import NOW, PERIOD, RULES, build_dataset
from tracker.cases.hold import hold_case, release_case
from tracker.cases.lifecycle import close_case
from tracker.cases.register import add_evidence
from tracker.errors import DomainError
from tracker.integrity.integrity import verify_everything
from tracker.oversight.offenders import decide
from tracker.privacy.retention import run_retention
from tracker.oversight.statistics import med_statistics
from tracker.workflow.letters import create_letter
from tracker.accounts.rule_files import rule_file, save_rule_file
from tracker.adapters import runtime as runtime_module
from tracker.workflow.retention import DEFAULT_PATH, RetentionRules, load_retention_rules
from tracker.workflow.steps import attach_upload


@dataclass
class World:
    gone: str  #: closed, not held: erased when due
    held: str  #: closed and under legal hold
    open: str  #: never closed
    hr_id: int


def blobs_of(rt, ref: str) -> set[str]:
    """Every blob the case's rows refer to now."""
    with rt.Session() as s:
        case_id = s.execute(select(Case.id).where(Case.ref == ref)).scalar_one()
        ev = s.execute(select(Evidence).where(Evidence.case_id == case_id)).scalars().all()
        shas = {a for (a,) in s.execute(select(Artifact.sha256).where(Artifact.evidence_id.in_([e.id for e in ev])))}
        shas |= {x for e in ev for x in (e.upload_sha256, e.manifest_sha256, e.timestamp_sha256) if x}
        shas |= {a.sha256 for a in s.execute(select(StepAttachment)).scalars() if a.sha256 and a.step.case_id == case_id}
    return shas


def build(rt) -> World:
    """Three cases, each with two captures, an uploaded screenshot, a platform's reply attached and a letter."""
    with rt.transaction() as s:
        unit = make_unit(s)
        employee, leader, hr = make_user(s, Role.employee, unit), make_user(s, Role.leader, unit), make_user(s, Role.hr)
        cases = [make_case(s, employee, description=f"Trussel nr. {i} mod Mette") for i in range(3)]
        ids, refs, leader_id, hr_id, emp_id = [c.id for c in cases], [c.ref for c in cases], leader.id, hr.id, employee.id
    for n, case_id in enumerate(ids):
        make_done_evidence(rt, case_id, emp_id, bundle=make_bundle(color=(10 + n, 20, 30)))
        make_done_evidence(rt, case_id, leader_id, url=f"https://example.org/opslag/{n}",
                           bundle=make_bundle(color=(200, 100 + n, 0)))
        upload = rt.blobs.put(png_bytes(color=(0, 90, n)))
        with rt.transaction() as s:
            case, leader = s.get(Case, case_id), s.get(User, leader_id)
            add_evidence(s, leader, case, upload_sha256=upload, upload_filename="skærmbillede.png")
            attach_upload(s, rt.blobs, case, "platform_notice", leader, png_bytes(color=(1, 2, n)), "svar.png",
                          max_bytes=10_000_000, rules=RULES)
            create_letter(s, leader, case, "request_to_author")
    with rt.transaction() as s:
        leader = s.get(User, leader_id)
        for case_id in ids[:2]:
            close_case(s, s.get(Case, case_id), leader, "Fjernet og fulgt op")
        hold_case(s, s.get(Case, ids[1]), s.get(User, hr_id), "Retssag ved Københavns Byret")
    return World(refs[0], refs[1], refs[2], hr_id)


def test_nothing_is_erased_before_the_rule_is_due_and_a_dry_run_erases_nothing(runtime):
    w = build(runtime)
    before = blobs_of(runtime, w.gone)
    early = run_retention(runtime, utcnow() + timedelta(days=4 * 365))
    assert (early.cases, early.held) == ([], [])
    dry = run_retention(runtime, utcnow() + timedelta(days=6 * 365), dry_run=True)
    assert dry.cases == [(w.gone, "closed_case")] and dry.held == [w.held]
    assert blobs_of(runtime, w.gone) == before and all(runtime.blobs.exists(b) for b in before)
    with runtime.Session() as s:
        assert s.execute(select(Case.erased_at).where(Case.ref == w.gone)).scalar_one() is None
        assert s.execute(select(AuditEvent).where(AuditEvent.action == "case.erase")).first() is None


def test_a_due_case_is_erased_on_disk_a_held_and_an_open_case_are_kept_and_verify_stays_green(runtime):
    w = build(runtime)
    gone, held, still_open = blobs_of(runtime, w.gone), blobs_of(runtime, w.held), blobs_of(runtime, w.open)
    only_its_own = gone - held - still_open  # the captures' identical HTML and text are one blob for all three
    assert len(only_its_own) >= 6 and len(gone & held) >= 2 and all(runtime.blobs.path_for(b).is_file() for b in gone)
    result = run_retention(runtime, utcnow() + timedelta(days=6 * 365))
    assert result.cases == [(w.gone, "closed_case")] and result.held == [w.held]
    assert result.blobs_deleted == len(only_its_own)
    assert not any(runtime.blobs.path_for(b).exists() for b in only_its_own)  # gone from the disk
    assert all(runtime.blobs.path_for(b).is_file() for b in held | still_open)
    with runtime.Session() as s:
        case = s.execute(select(Case).where(Case.ref == w.gone)).scalar_one()
        assert (case.description, case.erased_rule, case.status) == ("", "closed_case", "closed")
        assert case.erased_at is not None and case.category is None and case.closed_at is not None
        evidence = s.execute(select(Evidence).where(Evidence.case_id == case.id)).scalars().all()
        assert len(evidence) == 4  # the tombstone keeps the count (the reported URL, two captures, the upload)
        assert all(e.source_url is None and e.phash is None and e.text_sha256 is None and e.manifest_sha256 is None
                   for e in evidence)
        assert all(e.state.value in ("done", "failed") for e in evidence)  # the never-run request is no job any more
        assert s.get(CaseText, case.id) is None
        assert [(l.subject, l.body) for l in s.execute(select(Letter).where(Letter.case_id == case.id)).scalars()] == [("", "")]
        kept = s.execute(select(Case).where(Case.ref == w.held)).scalar_one()
        assert kept.erased_at is None and kept.description.startswith("Trussel") and s.get(CaseText, kept.id) is not None
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "case.erase")).scalar_one()
        assert (event.object_id, event.details["rule"], event.actor_id) == (w.gone, "closed_case", None)
    report = verify_everything(runtime)
    assert report.ok, report.lines()
    assert report.blobs_checked == len(held | still_open)
    assert any(n.startswith(f"case {w.gone} erased ") and "by retention rule closed_case" in n for n in report.notes)
    again = run_retention(runtime, utcnow() + timedelta(days=6 * 365))
    assert again.cases == [] and again.blobs_deleted == 0  # erasing is done once


def test_a_released_case_is_erased_at_the_next_run_and_an_erased_case_cannot_be_held(runtime):
    w = build(runtime)
    as_of = utcnow() + timedelta(days=6 * 365)
    run_retention(runtime, as_of)
    with runtime.transaction() as s:
        hr = s.get(User, w.hr_id)
        release_case(s, s.execute(select(Case).where(Case.ref == w.held)).scalar_one(), hr)
    assert run_retention(runtime, as_of).cases == [(w.held, "closed_case")]
    with pytest.raises(DomainError) as refused, runtime.transaction() as s:
        hold_case(s, s.execute(select(Case).where(Case.ref == w.gone)).scalar_one(), s.get(User, w.hr_id), "For sent")
    assert refused.value.code == "case_erased"
    with runtime.Session() as s:
        actions = list(s.execute(select(AuditEvent.action).where(AuditEvent.action.in_(
            ("case.hold", "case.release", "case.erase"))).order_by(AuditEvent.id)).scalars())
    assert actions == ["case.hold", "case.erase", "case.release", "case.erase"]
    report = verify_everything(runtime)
    assert report.ok, [p.message for p in report.problems]


def test_only_hr_and_the_administrator_may_hold_a_case(runtime):
    w = build(runtime)
    with runtime.transaction() as s:
        case = s.execute(select(Case).where(Case.ref == w.open)).scalar_one()
        leader = make_user(s, Role.leader, case.unit)
        with pytest.raises(DomainError) as refused:
            hold_case(s, case, leader, "Jeg vil gemme den")
        assert refused.value.code == "not_allowed"
        with pytest.raises(DomainError) as empty:
            hold_case(s, case, s.get(User, w.hr_id), "  ")
        assert empty.value.code == "hold_reason_empty"
        hold_case(s, case, make_user(s, Role.admin), "Politiets efterforskning")
        assert case.hold_reason == "Politiets efterforskning"


def test_the_med_statistics_are_the_same_after_erasure(runtime):
    data = build_dataset(runtime)
    with runtime.transaction() as s:
        leader_b = s.execute(select(User).where(User.email == data.emails["leader-b"])).scalar_one()
        leader_a = s.execute(select(User).where(User.email == data.emails["leader-a"])).scalar_one()
        close_case(s, s.execute(select(Case).where(Case.ref == data.refs[4])).scalar_one(), leader_b, "Fjernet")
        close_case(s, s.execute(select(Case).where(Case.ref == data.refs[2])).scalar_one(), leader_a, "Fjernet")

    def stats(email: str):
        with runtime.Session() as s:
            viewer = s.execute(select(User).where(User.email == email)).scalar_one()
            return med_statistics(s, viewer, PERIOD, RULES, NOW)

    before = {who: stats(data.emails[who]) for who in ("hr", "leader-a", "leader-b")}
    # the suggestion rule is left out: removing an unconfirmed suggestion does change "per offender type" (it
    # counts suggestions), on purpose; erasing cases and the offenders only they named must change nothing
    shipped = load_retention_rules()
    rules = RetentionRules(tuple(r for r in shipped.rules if r.applies_to != "offender_suggestion"), shipped.path)
    result = run_retention(runtime, utcnow() + timedelta(days=6 * 365), rules=rules)
    assert sorted(ref for ref, _ in result.cases) == sorted([data.refs[1], data.refs[2], data.refs[4]])
    after = {who: stats(data.emails[who]) for who in ("hr", "leader-a", "leader-b")}
    for who in before:
        for name in type(before[who]).__dataclass_fields__:
            assert (who, name, getattr(after[who], name)) == (who, name, getattr(before[who], name))
    assert before["hr"].total == 7
    report = verify_everything(runtime)
    assert report.ok, [p.message for p in report.problems]


def test_an_unconfirmed_suggestion_goes_after_30_days_and_an_offender_once_no_live_case_names_it(runtime):
    """Case 1 (open) has a suggestion nobody decided; case 2 (closed) a confirmed offender, named nowhere else."""
    with runtime.transaction() as s:
        unit = make_unit(s)
        employee, leader = make_user(s, Role.employee, unit), make_user(s, Role.leader, unit)
        first, second = make_case(s, employee), make_case(s, employee)
        ids, emp_id, leader_id = (first.id, second.id), employee.id, leader.id
    make_done_evidence(runtime, ids[0], emp_id, bundle=make_post_bundle(author_handle="@forslag_person"))
    make_done_evidence(runtime, ids[1], emp_id, bundle=make_post_bundle(author_handle="@vred_borger", color=(1, 1, 1)))
    with runtime.transaction() as s:
        links = {link.offender.handle: link for link in s.execute(select(CaseOffender)).scalars()}
        assert {h: l.state for h, l in links.items()} == {"forslag_person": "suggested", "vred_borger": "suggested"}
        second_case, leader = s.get(Case, ids[1]), s.get(User, leader_id)
        decide(s, second_case, links["vred_borger"].id, "confirmed", leader)
        close_case(s, second_case, leader, "Fjernet")
        suggestion_id, angry_id = links["forslag_person"].id, links["vred_borger"].offender_id
        suggested_id = links["forslag_person"].offender_id
    month = run_retention(runtime, utcnow() + timedelta(days=31))
    assert month.suggestions == [(suggestion_id, "offender_suggestion")]
    assert month.cases == [] and month.offenders == [(suggested_id, "offender_unlinked")]  # named by nothing now
    years = run_retention(runtime, utcnow() + timedelta(days=6 * 365))
    assert [ref for ref, _ in years.cases] and years.offenders == [(angry_id, "offender_unlinked")]
    with runtime.Session() as s:
        angry = s.get(Offender, angry_id)
        assert (angry.handle, angry.profile_url, angry.display_name, angry.erased_rule) == (
            f"slettet-{angry_id}", None, None, "offender_unlinked")
        assert s.get(CaseOffender, suggestion_id) is None
        assert s.execute(select(CaseOffender.state).where(CaseOffender.offender_id == angry_id)).scalar_one() == "confirmed"
    report = verify_everything(runtime)
    assert report.ok, [p.message for p in report.problems]
    assert sum("by retention rule offender_unlinked" in n for n in report.notes) == 2


def test_the_administrators_copy_of_the_rules_decides_the_next_run(runtime, monkeypatch):
    monkeypatch.setattr(runtime_module, "RULES_LOOK_EVERY", 0)  # in production a worker looks every few seconds
    w = build(runtime)
    shipped = DEFAULT_PATH.read_text(encoding="utf-8")
    shorter = shipped.replace("keep_years = 5\nenforced = true", "keep_years = 2\nenforced = true", 1)
    assert shorter != shipped
    in_three_years = utcnow() + timedelta(days=3 * 365)
    assert run_retention(runtime, in_three_years, dry_run=True).cases == []
    with runtime.transaction() as s:
        save_rule_file(s, make_user(s, Role.admin), runtime.rules_dir, rule_file("retention"), shorter)
    assert runtime.refresh_in_force() is True  # the worker's hook before its next job (the web process saved it)
    assert run_retention(runtime, in_three_years).cases == [(w.gone, "closed_case")]
    with runtime.Session() as s:
        saved = s.execute(select(AuditEvent).where(AuditEvent.action == "rules.save")).scalar_one()
        assert saved.object_id == "retention.toml"


def test_the_daily_job_erases_a_case_closed_six_years_ago_and_keeps_a_held_one(runtime):
    with runtime.transaction() as s:
        unit = make_unit(s)
        employee, leader, hr = make_user(s, Role.employee, unit), make_user(s, Role.leader, unit), make_user(s, Role.hr)
        old, held = make_case(s, employee), make_case(s, employee)
        refs = (old.ref, held.ref)
        hold_case(s, held, hr, "Klage til Ankestyrelsen")
        with time_machine.travel(utcnow() - timedelta(days=6 * 365), tick=False):
            close_case(s, old, leader, "Fjernet")
            close_case(s, held, leader, "Fjernet")
    job = next(cls for cls in runtime.huey._registry._periodic_tasks if cls.__name__ == "retention_run")
    assert runtime.huey.execute(job()) == 1
    with runtime.Session() as s:
        erased = dict(s.execute(select(Case.ref, Case.erased_rule).where(Case.ref.in_(refs))).all())
    assert erased == {refs[0]: "closed_case", refs[1]: None}
    report = verify_everything(runtime)
    assert report.ok, [p.message for p in report.problems]


def test_erasure_blanks_the_details_of_the_cases_audit_events_and_the_chain_still_verifies(runtime):
    w = build(runtime)
    with runtime.Session() as s:
        case_id = s.execute(select(Case.id).where(Case.ref == w.gone)).scalar_one()
        request = s.execute(select(AuditEvent).where(AuditEvent.case_id == case_id,
                                                     AuditEvent.action == "evidence.request")).scalars().first()
        assert request.details["url"].startswith("https://") and request.details_sha256
        request_id, digest, before_hash = request.id, request.details_sha256, request.hash
    run_retention(runtime, utcnow() + timedelta(days=6 * 365))
    with runtime.Session() as s:
        request = s.get(AuditEvent, request_id)
        assert request.details == {"erased_by_rule": "closed_case"}
        assert (request.details_sha256, request.hash) == (digest, before_hash)
        kept = [e.details for e in s.execute(select(AuditEvent).where(AuditEvent.case_id == case_id)).scalars()
                if e.action != "case.erase"]
        assert all(set(d) <= {"erased_by_rule", "facts_sha256", "fingerprint", "rule"} for d in kept)
        held_id = s.execute(select(Case.id).where(Case.ref == w.held)).scalar_one()
        assert any("url" in e.details for e in s.execute(select(AuditEvent).where(AuditEvent.case_id == held_id)).scalars())
        erase = s.execute(select(AuditEvent).where(AuditEvent.action == "case.erase")).scalar_one()
        assert erase.details["events_erased"] == len(kept) - sum(1 for d in kept if not d)
    assert verify_everything(runtime).ok
    with runtime.engine.begin() as conn:  # details changed in any other way are still an edit
        conn.execute(text("UPDATE audit_events SET details = :d WHERE id = :i"),
                     {"d": '{"erased_by_rule": "closed_case", "url": "https://andet.example"}', "i": request_id})
    report = verify_everything(runtime)
    assert [(p.kind, p.subject) for p in report.problems] == [("event_edited", f"event:{request_id}")]
