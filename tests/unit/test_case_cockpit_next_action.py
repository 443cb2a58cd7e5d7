"""The cockpit's next action: pure data from the case file, most urgent deadline first."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tracker.workflow.next_action import next_action, next_actions

NOW = datetime(2026, 12, 2, 15, 5, tzinfo=timezone.utc)


def step(id, kind="checklist", deadline=None, state="todo", applies=True, actor="leader", order=1):
    return {"id": id, "kind": kind, "deadline": deadline, "state": state, "applies": applies, "actor": actor,
            "order": order, "label_da": id + " (da)", "label_en": id + " (en)"}


def deadline(id, state="open", due=None, starts_at="episode"):
    return {"id": id, "state": state, "due_at": due, "starts_at": starts_at}


def overview(steps, deadlines, status="open"):
    return {"status": status, "steps": steps, "deadlines": deadlines}


def test_the_police_report_is_next_with_its_due_time_and_what_is_left():
    due = NOW + timedelta(days=2, hours=20)
    o = overview([step("secure_evidence", state="done"), step("police_report", deadline="police_report")],
                 [deadline("police_report", due=due)])
    a = next_action(o, NOW)
    assert (a.step_id, a.action_da, a.why, a.due, a.remaining) == (
        "police_report", "Anmeld til politiet", "deadline", due, timedelta(days=2, hours=20))


def test_an_overdue_deadline_comes_before_an_earlier_open_one_and_at_risk_before_open():
    o = overview([step("a", deadline="d1"), step("b", deadline="d2"), step("c", deadline="d3")],
                 [deadline("d1", "open", NOW + timedelta(hours=1)), deadline("d2", "overdue", NOW - timedelta(days=1)),
                  deadline("d3", "at_risk", NOW + timedelta(hours=5))])
    assert [a.step_id for a in next_actions(o, NOW)][:3] == ["b", "c", "a"]
    assert next_action(o, NOW).remaining == -timedelta(days=1)


def test_a_step_that_is_done_skipped_or_not_applicable_has_no_action_though_its_clock_runs():
    o = overview([step("police_report", deadline="police_report", state="skipped"),
                  step("leader_conversation", deadline="leader_conversation", applies=False),
                  step("work_injury_report", deadline="w", state="done")],
                 [deadline("police_report", due=NOW), deadline("leader_conversation", due=NOW),
                  deadline("w", due=NOW)])
    assert next_actions(o, NOW) == []


def test_an_unknown_episode_time_still_names_the_police_report_after_the_counting_clocks():
    o = overview([step("police_report", deadline="police_report"),
                  step("leader_conversation", deadline="leader_conversation")],
                 [deadline("police_report", "unknown_start"),
                  deadline("leader_conversation", "open", NOW + timedelta(hours=3), "case_opened")])
    first, second = next_actions(o, NOW)[:2]
    assert first.step_id == "leader_conversation"
    assert (second.step_id, second.why, second.due, second.starts_at) == ("police_report", "unknown_start", None,
                                                                          "episode")


def test_without_a_counting_clock_the_suggested_rung_then_the_first_open_checklist_step_follow():
    o = overview([step("follow_up"), step("apv", actor="amr"), step("platform_notice", kind="ladder")], [])
    assert [(a.step_id, a.why) for a in next_actions(o, NOW, suggested_rung="platform_notice")] == [
        ("platform_notice", "suggested_rung"), ("follow_up", "checklist")]
    assert next_action(o, NOW).action_en == "follow_up (en)"  # a step without an imperative keeps its label


def test_a_rung_whose_clock_runs_after_it_was_taken_names_the_deadlines_action():
    o = overview([step("injunction", kind="ladder", deadline="justification_suit", state="in_progress")],
                 [deadline("justification_suit", "at_risk", NOW + timedelta(days=2), "injunction_granted")])
    assert next_action(o, NOW).action_da == "Anlæg justifikationssagen"


def test_a_closed_case_has_no_next_action():
    o = overview([step("police_report", deadline="police_report")], [deadline("police_report", due=NOW)],
                 status="closed")
    assert next_action(o, NOW) is None
