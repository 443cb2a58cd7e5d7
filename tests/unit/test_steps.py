"""The leader's workflow operations on SQLite: step states, permissions, the police-report decline,
ladder rungs and the next-rung suggestion, clock starts and facts. Every change is an audit event."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from storage.models import AuditEvent, Case, CaseStep, StepState, User
from tests.support.factories import make_case, make_settings, make_unit, make_user
from tests.support.database import new_runtime
from tracker.workflow import steps
from tracker.workflow.deadlines import State
from tracker.errors import DomainError, NotFound
from tracker.workflow.rules import load_rules
from webui.timefmt import CPH

RULES = load_rules()
NOW = datetime(2026, 11, 26, 14, 5, tzinfo=CPH)


@pytest.fixture(scope="module")
def rt(tmp_path_factory):
    runtime = new_runtime(make_settings(tmp_path_factory.mktemp("steps")))
    yield runtime
    runtime.close()


@pytest.fixture(scope="module")
def people(rt) -> dict[str, int]:
    """A unit's people and two outsiders, made once (password hashing is slow on purpose)."""
    with rt.transaction() as session:
        unit, other = make_unit(session), make_unit(session)
        made = {"employee": make_user(session, "employee", unit), "leader": make_user(session, "leader", unit),
                "amr": make_user(session, "amr", unit), "hr": make_user(session, "hr", other),
                "leader_b": make_user(session, "leader", other), "admin": make_user(session, "admin", unit)}
        return {k: u.id for k, u in made.items()}


@pytest.fixture
def org(rt, people):
    """A fresh case of the employee's, 50 hours after its episode; everything rolled back afterwards."""
    session = rt.Session()
    p = {k: session.get(User, i) for k, i in people.items()}
    case = make_case(session, p["employee"], episode_at=NOW - timedelta(hours=50))
    yield session, case, p
    session.rollback()
    session.close()


def events(session, case: Case, action: str) -> list[AuditEvent]:
    return list(session.execute(select(AuditEvent).where(AuditEvent.case_id == case.id,
                                                         AuditEvent.action == action)).scalars())


def test_steps_are_created_lazily_once_for_every_rule(org):
    session, case, _ = org
    assert steps.step_rows(session, case) == {}
    rows = steps.ensure_steps(session, case, RULES)
    assert set(rows) == {s.id for s in RULES.steps}
    assert all(r.state is StepState.todo for r in rows.values())
    assert steps.ensure_steps(session, case, RULES).keys() == rows.keys()
    assert len(session.execute(select(CaseStep).where(CaseStep.case_id == case.id)).all()) == len(RULES.steps)


def test_done_records_who_and_when_and_is_an_audit_event(org):
    session, case, p = org
    row = steps.set_state(session, case, "leader_conversation", "done", p["leader"], note="Talt sammen",
                          rules=RULES, now=NOW)
    assert (row.state, row.done_at, row.updated_by_id, row.note) == (StepState.done, NOW, p["leader"].id, "Talt sammen")
    [ev] = events(session, case, "step.state")
    assert ev.actor_id == p["leader"].id and ev.details["state"] == "done" and ev.details["before"] == "todo"


def test_done_may_be_back_dated_but_not_put_in_the_future(org):
    session, case, p = org
    earlier = NOW - timedelta(days=2)
    row = steps.set_state(session, case, "leader_conversation", "done", p["leader"], done_at=earlier,
                          rules=RULES, now=NOW)
    assert row.done_at == earlier
    with pytest.raises(DomainError) as exc:
        steps.set_state(session, case, "leader_conversation", "done", p["leader"], done_at=NOW + timedelta(hours=1),
                        rules=RULES, now=NOW)
    assert exc.value.code == "done_at_future"


@pytest.mark.parametrize("state", ["skipped", "not_applicable"])
def test_skipping_or_not_applicable_needs_a_reason(org, state):
    session, case, p = org
    with pytest.raises(DomainError) as exc:
        steps.set_state(session, case, "contact_citizen", state, p["leader"], reason="  ", rules=RULES, now=NOW)
    assert exc.value.code == "reason_missing"
    row = steps.set_state(session, case, "contact_citizen", state, p["leader"], reason="Borgeren er anonym",
                          rules=RULES, now=NOW)
    assert row.reason == "Borgeren er anonym" and row.done_at is None


def test_an_unknown_state_or_step_is_refused(org):
    session, case, p = org
    with pytest.raises(DomainError):
        steps.set_state(session, case, "leader_conversation", "finished", p["leader"], rules=RULES, now=NOW)
    with pytest.raises(DomainError):
        steps.set_state(session, case, "no_such_step", "done", p["leader"], rules=RULES, now=NOW)


def test_who_may_change_steps_by_role(org):
    session, case, p = org
    # the unit's leader and HR change any step; the unit's AMR only the AMR steps
    for who in ("leader", "hr"):
        steps.set_state(session, case, "follow_up", "in_progress", p[who], rules=RULES, now=NOW)
    steps.set_state(session, case, "apv_action_plan", "in_progress", p["amr"], rules=RULES, now=NOW)
    with pytest.raises(DomainError) as exc:
        steps.set_state(session, case, "follow_up", "done", p["amr"], rules=RULES, now=NOW)
    assert exc.value.code == "not_allowed"
    # the employee reads but does not change: not_allowed (a 403), not a 404
    with pytest.raises(DomainError) as exc:
        steps.set_state(session, case, "secure_evidence", "done", p["employee"], rules=RULES, now=NOW)
    assert exc.value.code == "not_allowed"
    # another unit's leader and the admin do not see the case at all: NotFound (a 404)
    for who in ("leader_b", "admin"):
        with pytest.raises(NotFound):
            steps.set_state(session, case, "follow_up", "done", p[who], rules=RULES, now=NOW)
        with pytest.raises(NotFound):
            steps.set_facts(session, case, p[who], author_known=True)
    with pytest.raises(DomainError):
        steps.set_clock(session, case, "absence_start", NOW, p["amr"], now=NOW)


def test_declining_the_police_report_closes_the_72_hour_clock_with_the_note(org):
    session, case, p = org
    before = {d.rule.id: d for d in steps.case_deadlines(case, RULES, {}, {}, NOW)}
    assert before["police_report"].state == State.at_risk  # 50 of 72 hours gone: at risk from 48 h
    with pytest.raises(DomainError):
        steps.decline_police_report(session, case, p["leader"], "", rules=RULES, now=NOW)
    with pytest.raises(DomainError) as exc:
        steps.decline_police_report(session, case, p["employee"], "Ønsker ikke", rules=RULES, now=NOW)
    assert exc.value.code == "not_allowed"
    note = "Medarbejderen ønsker ikke at anmelde episoden. Registreret i InsuBiz."
    row = steps.decline_police_report(session, case, p["leader"], note, rules=RULES, now=NOW)
    assert (row.state, row.outcome, row.note) == (StepState.skipped, "declined", note)
    rows = steps.step_rows(session, case)
    police = {d.rule.id: d for d in steps.case_deadlines(case, RULES, rows, {}, NOW)}["police_report"]
    assert police.status.state is State.met and police.status.closed_note == note and police.closed_by is None
    # the note step now applies
    assert steps.case_facts(case, rows)["police_report_declined"] is True
    assert steps.applies(RULES.step("declined_police_report_note"), case, rows) is True
    assert events(session, case, "step.police_report_declined")[0].details["note"] == note


def test_a_done_step_meets_its_deadline_and_a_skipped_one_closes_it(org):
    session, case, p = org
    steps.set_clock(session, case, "absence_start", NOW - timedelta(days=20), p["leader"], "Syg fra mandag", now=NOW)
    steps.set_state(session, case, "leader_conversation", "done", p["leader"], done_at=NOW - timedelta(days=1),
                    rules=RULES, now=NOW)
    steps.set_state(session, case, "work_injury_report", "not_applicable", p["leader"], reason="Intet fravær",
                    rules=RULES, now=NOW)
    rows, clocks = steps.step_rows(session, case), steps.clock_rows(session, case)
    ds = {d.rule.id: d for d in steps.case_deadlines(case, RULES, rows, clocks, NOW)}
    assert ds["leader_conversation"].state == "met"
    assert ds["work_injury_report"].state == "closed" and not ds["work_injury_report"].pending
    assert ds["justification_suit"].state == "unknown_start"
    assert events(session, case, "clock.set")[0].details["note"] == "Syg fra mandag"


def test_clock_starts_are_checked_and_can_be_forgotten(org):
    session, case, p = org
    with pytest.raises(DomainError):
        steps.set_clock(session, case, "case_opened", NOW, p["leader"], now=NOW)
    with pytest.raises(DomainError):
        steps.set_clock(session, case, "injunction_granted", NOW + timedelta(days=1), p["leader"], now=NOW)
    steps.set_clock(session, case, "injunction_granted", NOW - timedelta(days=1), p["leader"], now=NOW)
    assert steps.clock_rows(session, case)["injunction_granted"].at == NOW - timedelta(days=1)
    steps.set_clock(session, case, "injunction_granted", None, p["leader"], now=NOW)
    assert "injunction_granted" not in steps.clock_rows(session, case)
    steps.set_clock(session, case, "episode", NOW - timedelta(hours=1), p["hr"], now=NOW)
    assert case.episode_at == NOW - timedelta(hours=1)


def test_facts_change_only_what_differs_and_are_audited(org):
    session, case, p = org
    assert steps.set_facts(session, case, p["leader"], author_known=True, defamatory=False) == {
        "author_known": True, "defamatory": False}
    assert steps.set_facts(session, case, p["leader"], author_known=True) == {}
    assert steps.case_facts(case, {}) == {"author_known": True, "not_defamatory": True}
    assert len(events(session, case, "case.facts")) == 1
    with pytest.raises(DomainError):
        steps.set_facts(session, case, p["leader"], author_known="maybe")


def test_the_next_rung_is_suggested_after_the_waiting_days_without_removal(org):
    session, case, p = org
    steps.set_facts(session, case, p["leader"], author_known=True)
    assert steps.suggest_next_rung(case, RULES, {}, NOW).step.id == "request_to_author"
    sent = NOW - timedelta(days=3)
    steps.record_rung(session, case, "request_to_author", p["leader"], sent, "Brev", None, None, None,
                      rules=RULES, now=NOW)
    rows = steps.step_rows(session, case)
    assert rows["request_to_author"].state is StepState.in_progress
    assert steps.suggest_next_rung(case, RULES, rows, NOW) is None  # still waiting (7 days)
    later = sent + timedelta(days=7, minutes=1)
    s = steps.suggest_next_rung(case, RULES, rows, later)
    assert (s.step.id, s.why, s.after.id) == ("platform_notice", "waited", "request_to_author")
    # an answer that removed it: nothing more to suggest
    steps.record_rung(session, case, "request_to_author", p["leader"], sent, "Brev", None, "removed", None,
                      rules=RULES, now=NOW)
    rows = steps.step_rows(session, case)
    assert rows["request_to_author"].state is StepState.done
    assert steps.suggest_next_rung(case, RULES, rows, later) is None
    # a refusal: the next rung at once
    steps.record_rung(session, case, "request_to_author", p["leader"], sent, "Brev", None, "refused", None,
                      rules=RULES, now=NOW)
    assert steps.suggest_next_rung(case, RULES, steps.step_rows(session, case), NOW).why == "failed"
    assert len(events(session, case, "step.rung")) == 3


def test_an_anonymous_author_starts_the_ladder_at_the_platform(org):
    session, case, p = org
    steps.set_facts(session, case, p["leader"], author_known=False)
    assert steps.suggest_next_rung(case, RULES, {}, NOW).step.id == "platform_notice"


def test_rung_records_are_checked(org):
    session, case, p = org
    with pytest.raises(DomainError) as exc:
        steps.record_rung(session, case, "platform_notice", p["leader"], None, None, None, "refused", None,
                          rules=RULES, now=NOW)
    assert exc.value.code == "sent_at_missing"
    with pytest.raises(DomainError):
        steps.record_rung(session, case, "platform_notice", p["leader"], NOW, None, None, "maybe", None,
                          rules=RULES, now=NOW)
    with pytest.raises(DomainError):
        steps.record_rung(session, case, "follow_up", p["leader"], NOW, None, None, None, None, rules=RULES, now=NOW)
    with pytest.raises(DomainError) as exc:
        steps.record_rung(session, case, "platform_notice", p["employee"], NOW, None, None, None, None,
                          rules=RULES, now=NOW)
    assert exc.value.code == "not_allowed"


def test_cases_are_ordered_by_urgency(org):
    session, case, p = org
    overdue = make_case(session, p["employee"], episode_at=NOW - timedelta(hours=80))
    at_risk = case  # 50 hours into the 72
    unknown = make_case(session, p["employee"], episode_at=None)
    for c in (overdue, at_risk, unknown):  # the conversation clock is met everywhere
        steps.set_state(session, c, "leader_conversation", "done", p["leader"], rules=RULES, now=NOW)
    ordered, nearest = steps.urgency_order(session, [unknown, at_risk, overdue], RULES, NOW)
    assert [c.id for c in ordered][:2] == [overdue.id, at_risk.id]
    assert nearest[overdue.id].state == "overdue" and nearest[overdue.id].rule.id == "police_report"
    assert nearest[at_risk.id].state == "at_risk"
