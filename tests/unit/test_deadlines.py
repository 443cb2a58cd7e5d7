"""The deadline engine on the shipped rules: due times, states at the boundaries, DST, month ends.

Pure: every test passes ``now`` explicitly (the engine never reads the clock).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tracker.workflow.deadlines import COPENHAGEN, State, at_risk_from, at_wall_time, due_at, evaluate, start_for
from tracker.errors import DomainError
from tracker.workflow.rules import load_rules

RULES = load_rules()
SECOND = timedelta(seconds=1)


def cph(*args: int) -> datetime:
    """A Copenhagen wall-clock time (the first occurrence if the hour happens twice)."""
    return datetime(*args, tzinfo=COPENHAGEN)


def rule(rule_id: str):
    return RULES.deadlines[rule_id]


# start Thursday 15 January 2026 10:00 (winter time); the expected due and at-risk times per rule
START = cph(2026, 1, 15, 10)
EXPECTED = {
    "police_report": (cph(2026, 1, 18, 10), cph(2026, 1, 17, 10)),
    "leader_conversation": (cph(2026, 1, 15, 16), cph(2026, 1, 15, 14)),
    "work_injury_report": (cph(2026, 1, 29, 10), cph(2026, 1, 26, 10)),
    "private_prosecution": (cph(2026, 7, 15, 10), cph(2026, 6, 15, 10)),
    "justification_suit": (cph(2026, 1, 29, 10), cph(2026, 1, 26, 10)),
    "compensation_application": (cph(2028, 1, 15, 10), cph(2027, 10, 15, 10)),
    "gdpr_answer": (cph(2026, 2, 15, 10), cph(2026, 2, 8, 10)),
    "dsa_internal_complaint": (cph(2026, 7, 15, 10), cph(2026, 6, 15, 10)),
    "med_evaluation": (cph(2026, 7, 15, 10), cph(2026, 6, 15, 10)),
    "dsa_notice_receipt": (cph(2026, 1, 18, 10), cph(2026, 1, 17, 10)),
    "dsa_notice_decision": (cph(2026, 1, 22, 10), cph(2026, 1, 20, 10)),
    "dsa_dispute_decision": (cph(2026, 4, 15, 10), cph(2026, 4, 1, 10)),
}


def test_every_shipped_deadline_rule_has_its_boundaries_tested():
    assert set(EXPECTED) == set(RULES.deadlines)


@pytest.mark.parametrize("rule_id", EXPECTED)
def test_each_rule_falls_due_and_turns_at_risk_at_the_expected_local_time(rule_id):
    due, risk = EXPECTED[rule_id]
    assert due_at(rule(rule_id), START) == due
    assert at_risk_from(rule(rule_id), due) == risk


@pytest.mark.parametrize("rule_id", EXPECTED)
def test_each_rule_is_open_then_at_risk_then_overdue_one_second_either_side_of_its_boundaries(rule_id):
    due, risk = EXPECTED[rule_id]
    r = rule(rule_id)
    assert evaluate(r, START, risk - SECOND).state is State.open
    assert evaluate(r, START, risk).state is State.at_risk
    assert evaluate(r, START, due - SECOND).state is State.at_risk
    assert evaluate(r, START, due).state is State.at_risk
    after = evaluate(r, START, due + SECOND)
    assert after.state is State.overdue
    assert after.remaining == -SECOND
    assert after.legal_source == r.legal_source


def test_the_status_carries_the_rule_its_due_time_and_the_time_remaining():
    status = evaluate(rule("police_report"), START, cph(2026, 1, 16, 10))
    assert (status.rule_id, status.due, status.at_risk_from) == ("police_report", cph(2026, 1, 18, 10),
                                                                 cph(2026, 1, 17, 10))
    assert status.remaining == timedelta(hours=48)
    assert status.legal_source == "Offererstatningsloven § 10, stk. 1 (dispensation: § 10, stk. 2)"


# ---- hours are elapsed time ----------------------------------------------------------------------

def test_72_hours_across_the_spring_forward_night_end_at_13_00_local():
    due = due_at(rule("police_report"), cph(2026, 3, 28, 12))
    assert due == cph(2026, 3, 31, 13)
    assert due.astimezone(timezone.utc) - cph(2026, 3, 28, 12).astimezone(timezone.utc) == timedelta(hours=72)


def test_72_hours_across_the_fall_back_night_end_at_11_00_local():
    due = due_at(rule("police_report"), cph(2026, 10, 24, 12))
    assert due == cph(2026, 10, 27, 11)
    assert due.astimezone(timezone.utc) - cph(2026, 10, 24, 12).astimezone(timezone.utc) == timedelta(hours=72)


def test_the_time_remaining_is_real_elapsed_time_across_a_dst_change():
    # due 31 March 13:00 CEST = 11:00 UTC; now 29 March 01:00 CET = 00:00 UTC
    status = evaluate(rule("police_report"), cph(2026, 3, 28, 12), cph(2026, 3, 29, 1))
    assert status.remaining == timedelta(hours=59)


def test_an_hours_clock_given_in_utc_is_due_at_the_same_instant():
    start = cph(2026, 3, 28, 12).astimezone(timezone.utc)
    assert due_at(rule("police_report"), start) == cph(2026, 3, 31, 13)


# ---- calendar lengths keep the local wall-clock time ---------------------------------------------

def test_14_calendar_days_across_the_october_change_keep_the_local_time():
    due = due_at(rule("work_injury_report"), cph(2026, 10, 20, 9))
    assert due == cph(2026, 11, 3, 9)
    assert due.utcoffset() == timedelta(hours=1)
    assert due.astimezone(timezone.utc) - cph(2026, 10, 20, 9).astimezone(timezone.utc) == timedelta(days=14, hours=1)


def test_14_calendar_days_across_the_march_change_keep_the_local_time():
    due = due_at(rule("work_injury_report"), cph(2026, 3, 20, 9))
    assert due == cph(2026, 4, 3, 9)
    assert due.utcoffset() == timedelta(hours=2)
    assert due.astimezone(timezone.utc) - cph(2026, 3, 20, 9).astimezone(timezone.utc) == timedelta(days=13, hours=23)


def test_a_calendar_due_time_in_the_skipped_spring_hour_is_the_moment_the_clocks_jump():
    due = due_at(rule("work_injury_report"), cph(2026, 3, 15, 2, 30))  # 29 March 02:30 does not exist
    assert due == cph(2026, 3, 29, 3, 0)
    assert due.astimezone(timezone.utc) == datetime(2026, 3, 29, 1, 0, tzinfo=timezone.utc)


def test_a_calendar_due_time_in_the_repeated_autumn_hour_is_its_first_occurrence():
    due = due_at(rule("work_injury_report"), cph(2026, 10, 11, 2, 30))  # 25 October 02:30 happens twice
    assert due.astimezone(timezone.utc) == datetime(2026, 10, 25, 0, 30, tzinfo=timezone.utc)


def test_a_wall_time_that_exists_is_kept_as_it_is():
    assert at_wall_time(datetime(2026, 6, 1, 12, 0)) == cph(2026, 6, 1, 12)


@pytest.mark.parametrize(("rule_id", "start", "due"), [
    ("gdpr_answer", cph(2026, 1, 31, 10), cph(2026, 2, 28, 10)),
    ("gdpr_answer", cph(2028, 1, 31, 10), cph(2028, 2, 29, 10)),
    ("gdpr_answer", cph(2026, 3, 31, 10), cph(2026, 4, 30, 10)),
    ("private_prosecution", cph(2026, 8, 31, 10), cph(2027, 2, 28, 10)),
    ("dsa_internal_complaint", cph(2026, 12, 31, 23, 59), cph(2027, 6, 30, 23, 59)),
])
def test_a_month_length_ends_on_the_same_date_clamped_to_the_months_last_day(rule_id, start, due):
    assert due_at(rule(rule_id), start) == due


def test_the_dispute_body_may_extend_its_90_days_to_180_in_all():
    assert due_at(rule("dsa_dispute_decision"), START, extended=True) == cph(2026, 7, 14, 10)


def test_two_years_from_a_leap_day_end_on_28_february():
    assert due_at(rule("compensation_application"), cph(2028, 2, 29, 14)) == cph(2030, 2, 28, 14)


def test_an_extended_gdpr_answer_is_due_3_months_after_the_request():
    assert due_at(rule("gdpr_answer"), cph(2026, 1, 31, 10), extended=True) == cph(2026, 4, 30, 10)
    status = evaluate(rule("gdpr_answer"), cph(2026, 1, 31, 10), cph(2026, 3, 1, 10), extended=True)
    assert status.state is State.open


def test_a_rule_without_an_extension_cannot_be_extended():
    with pytest.raises(DomainError) as e:
        due_at(rule("police_report"), START, extended=True)
    assert e.value.code == "not_extendable"


# ---- "straks": the same working day -------------------------------------------------------------

@pytest.mark.parametrize(("opened", "due"), [
    (cph(2026, 1, 15, 9), cph(2026, 1, 15, 16)),  # Thursday morning: the same afternoon
    (cph(2026, 1, 15, 16), cph(2026, 1, 16, 16)),  # at the end of the day: the next working day
    (cph(2026, 1, 16, 17), cph(2026, 1, 19, 16)),  # Friday evening: Monday
    (cph(2026, 1, 17, 11), cph(2026, 1, 19, 16)),  # Saturday: Monday
])
def test_the_leader_conversation_is_due_by_the_end_of_the_working_day(opened, due):
    assert due_at(rule("leader_conversation"), opened) == due


# ---- unknown start, met, closed by note ----------------------------------------------------------

@pytest.mark.parametrize("rule_id", EXPECTED)
def test_a_clock_whose_start_is_unknown_says_so_and_guesses_nothing(rule_id):
    status = evaluate(rule(rule_id), None, cph(2026, 5, 1, 12))
    assert status.state is State.unknown_start
    assert (status.due, status.at_risk_from, status.remaining) == (None, None, None)
    assert status.legal_source == rule(rule_id).legal_source
    assert due_at(rule(rule_id), None) is None


def test_a_clock_met_before_it_is_due_is_met_on_time():
    status = evaluate(rule("police_report"), START, cph(2026, 2, 1, 12), met_at=cph(2026, 1, 18, 10))
    assert (status.state, status.met_late, status.remaining) == (State.met, False, None)


def test_a_clock_met_after_it_was_due_is_met_but_late():
    status = evaluate(rule("police_report"), START, cph(2026, 2, 1, 12), met_at=cph(2026, 1, 18, 10) + SECOND)
    assert (status.state, status.met_late) == (State.met, True)


def test_a_clock_met_with_an_unknown_start_cannot_tell_whether_it_was_late():
    status = evaluate(rule("police_report"), None, cph(2026, 2, 1, 12), met_at=cph(2026, 1, 18, 10))
    assert (status.state, status.met_late) == (State.met, None)


def test_a_declined_police_report_closes_the_72_hour_clock_as_met_and_keeps_the_note():
    note = "Medarbejderen ønsker ikke at politianmelde episoden."
    status = evaluate(rule("police_report"), START, cph(2026, 1, 25, 12), met_at=cph(2026, 1, 16, 9),
                      closed_note=note)
    assert (status.state, status.closed_note, status.met_at) == (State.met, note, cph(2026, 1, 16, 9))


def test_a_declined_note_closes_the_clock_even_when_the_start_is_unknown():
    status = evaluate(rule("police_report"), None, cph(2026, 1, 25, 12), closed_note="Ønsker ikke anmeldelse")
    assert status.state is State.met


def test_only_a_rule_that_allows_it_can_be_closed_by_a_note():
    with pytest.raises(DomainError) as e:
        evaluate(rule("work_injury_report"), START, cph(2026, 1, 20, 12), closed_note="Ingen anmeldelse")
    assert (e.value.code, e.value.field) == ("not_closable_by_note", "closed_note")


def test_an_empty_closing_note_is_refused():
    with pytest.raises(DomainError) as e:
        evaluate(rule("police_report"), START, cph(2026, 1, 16, 12), closed_note="  ")
    assert e.value.code == "closed_note_empty"


@pytest.mark.parametrize("field", ["start", "now", "met_at"])
def test_a_time_without_a_time_zone_is_refused(field):
    times = {"start": START, "now": cph(2026, 1, 16, 12), "met_at": None}
    times[field] = datetime(2026, 1, 16, 12)
    with pytest.raises(DomainError) as e:
        evaluate(rule("police_report"), times["start"], times["now"], met_at=times["met_at"])
    assert (e.value.code, e.value.field) == ("naive_datetime", field)


# ---- which event starts the clock ----------------------------------------------------------------

def test_the_compensation_clock_restarts_at_the_latest_final_judgment_or_discontinuation():
    r = rule("compensation_application")
    episode, dropped = cph(2026, 1, 15, 10), cph(2026, 9, 1, 9)
    assert start_for(r, {"episode": episode}) == episode
    assert start_for(r, {"episode": episode, "investigation_discontinued": dropped,
                         "judgment_final": None}) == dropped
    assert start_for(r, {"episode": None}) is None


def test_a_clock_without_its_start_event_recorded_has_an_unknown_start():
    assert start_for(rule("justification_suit"), {"episode": START}) is None
