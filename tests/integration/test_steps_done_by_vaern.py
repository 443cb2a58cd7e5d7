"""Checklist steps Værn carries out itself are done: "secure the evidence" when a capture secured the post,
"inform the leader" when the new-case mail went out (real SMTP) or the leader opened the case; each audited
as done by Værn (no person as actor), and a person's own decision is never overwritten."""
from __future__ import annotations

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from storage.models import AuditEvent, Case, CaseStep, Role, StepState, User
from tests.support.factories import make_case, make_unit, make_user
from tests.support.flows import logged_in_client
from tests.support.recheck_captures import manifest, sealed
from tests.support.smtp import Inbox, free_port
from tracker.adapters import notify
from tracker.cases.register import view_case
from tracker.errors import NotFound
from tracker.cases.evidence import store_bundle
from tracker.workflow.steps import INFORM_LEADER, SECURE_EVIDENCE, set_state

POST_URL = "https://example.org/opslag/1"


def setup(rt) -> dict:
    with rt.transaction() as s:
        unit = make_unit(s)
        leader = make_user(s, Role.leader, unit)
        other_leader = make_user(s, Role.leader, make_unit(s))
        hr = make_user(s, Role.hr, make_unit(s))
        employee = make_user(s, Role.employee, unit)
        case = make_case(s, employee, url=POST_URL)
        return {"case_id": case.id, "ref": case.ref, "ev": case.evidence[0].id, "leader": leader.id,
                "other_leader": other_leader.id, "hr": hr.id, "employee": employee.id}


def step(rt, case_id: int, step_id: str) -> CaseStep | None:
    with rt.Session() as s:
        return s.execute(select(CaseStep).where(CaseStep.case_id == case_id, CaseStep.step_id == step_id)).scalar()


def step_events(rt, case_id: int, step_id: str) -> list[AuditEvent]:
    with rt.Session() as s:
        return list(s.execute(select(AuditEvent).where(AuditEvent.case_id == case_id, AuditEvent.action == "step.state",
                                                       AuditEvent.object_id == step_id)).scalars())


@pytest.mark.parametrize("status", ["ok", "consent_accepted", "consent_dismissed", "truncated"])
def test_a_capture_that_secured_the_post_marks_secure_evidence_done_by_vaern(make_runtime, status):
    rt = make_runtime()
    c = setup(rt)
    store_bundle(rt, c["ev"], sealed(manifest(status=status)))
    row = step(rt, c["case_id"], SECURE_EVIDENCE)
    assert row.state is StepState.done and row.done_at is not None and row.updated_by_id is None
    [event] = step_events(rt, c["case_id"], SECURE_EVIDENCE)
    assert event.actor_id is None
    assert event.details["by"] == "system" and event.details["because"] == "capture"
    assert event.details["evidence_id"] == c["ev"] and event.details["status"] == status


def test_the_case_page_names_vaern_as_who_changed_a_step_it_did_itself(make_runtime):
    rt = make_runtime()
    c = setup(rt)
    store_bundle(rt, c["ev"], sealed(manifest(status="ok")))
    with rt.Session() as s:
        leader_email = s.get(User, c["leader"]).email
    html = logged_in_client(rt, leader_email).get(f"/cases/{c['ref']}").get_data(as_text=True)
    step_html = html.split(f'id="step-{SECURE_EVIDENCE}"', 1)[1].split("</details>", 1)[0]
    assert "Ændret af Værn (automatisk)," in step_html and "Ændret af —" not in step_html


@pytest.mark.parametrize("status", ["login_wall", "consent_wall", "navigated_away", "blocked_by_policy",
                                    "not_found", "timed_out", "failed"])
def test_a_capture_that_did_not_secure_the_post_leaves_the_step_open(make_runtime, status):
    rt = make_runtime()
    c = setup(rt)
    store_bundle(rt, c["ev"], sealed(manifest(status=status)))
    row = step(rt, c["case_id"], SECURE_EVIDENCE)
    assert row is None or row.state is StepState.todo
    assert step_events(rt, c["case_id"], SECURE_EVIDENCE) == []


def test_a_step_a_person_decided_is_not_overwritten_by_a_later_capture(make_runtime):
    rt = make_runtime()
    c = setup(rt)
    with rt.transaction() as s:
        set_state(s, s.get(Case, c["case_id"]), SECURE_EVIDENCE, "not_applicable", s.get(User, c["leader"]),
                  reason="Medarbejderen har selv sikret alt", rules=rt.rules)
    store_bundle(rt, c["ev"], sealed(manifest(status="ok")))
    row = step(rt, c["case_id"], SECURE_EVIDENCE)
    assert row.state is StepState.not_applicable and row.updated_by_id == c["leader"]
    assert [e.actor_id for e in step_events(rt, c["case_id"], SECURE_EVIDENCE)] == [c["leader"]]


def test_the_sent_new_case_mail_marks_inform_the_leader_done_once(make_runtime):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        rt = make_runtime(smtp_host="127.0.0.1", smtp_port=controller.port, mail_from="vaern@kommune.test")
        c = setup(rt)
        inbox.reject = True
        assert notify.case_opened(rt, c["case_id"]) == 0
        assert step(rt, c["case_id"], INFORM_LEADER) is None  # the failed send rolled the step back too
        inbox.reject = False
        assert notify.case_opened(rt, c["case_id"]) == 1
    finally:
        controller.stop()
    assert len(inbox.messages) == 1
    row = step(rt, c["case_id"], INFORM_LEADER)
    assert row.state is StepState.done and row.updated_by_id is None
    [event] = step_events(rt, c["case_id"], INFORM_LEADER)
    assert event.actor_id is None and event.details["because"] == "notification"
    assert event.details["leader_id"] == c["leader"]


def test_without_mail_the_leader_opening_the_case_marks_inform_the_leader_done(make_runtime):
    rt = make_runtime(smtp_host=None)
    c = setup(rt)
    assert notify.case_opened(rt, c["case_id"]) == 0
    for who in ("employee", "hr"):  # the employee or HR opening it does not inform the leader
        with rt.transaction() as s:
            view_case(s, c["ref"], s.get(User, c[who]), rules=rt.rules)
    with rt.transaction() as s, pytest.raises(NotFound):  # a leader elsewhere may not see it at all
        view_case(s, c["ref"], s.get(User, c["other_leader"]), rules=rt.rules)
    row = step(rt, c["case_id"], INFORM_LEADER)
    assert row is None or row.state is StepState.todo
    with rt.transaction() as s:
        view_case(s, c["ref"], s.get(User, c["leader"]), rules=rt.rules)
    with rt.transaction() as s:
        view_case(s, c["ref"], s.get(User, c["leader"]), rules=rt.rules)  # twice: one event
    row = step(rt, c["case_id"], INFORM_LEADER)
    assert row.state is StepState.done and row.updated_by_id is None
    [event] = step_events(rt, c["case_id"], INFORM_LEADER)
    assert event.actor_id is None and event.details["because"] == "leader_opened"
    assert event.details["leader_id"] == c["leader"]
