"""The shipped rule files load and say what the guideline says; a broken copy fails with one precise line."""
from __future__ import annotations

import shutil
import tomllib
from datetime import datetime
from pathlib import Path

import pytest

from tracker.workflow.checklist import LETTERS, PRECONDITIONS, answer_due, next_rung, preconditions_hold
from tracker.workflow.deadlines import CLOCK_STARTS, COPENHAGEN
from tracker.errors import DomainError
from tracker.workflow.rules import RULES_DIR, RulesError, load_rules

ROOT = Path(__file__).resolve().parents[2]
RULES = load_rules()


# ---- the shipped files ---------------------------------------------------------------------------

def test_the_shipped_files_hold_12_checklist_steps_6_ladder_rungs_and_mediation():
    assert [s.order for s in RULES.checklist] == list(range(1, 13))
    assert [s.id for s in RULES.ladder] == ["request_to_author", "platform_notice", "internal_complaint",
                                            "dispute_settlement", "datatilsynet_complaint", "injunction"]
    assert [s.id for s in RULES.alternatives] == ["mediation"]


def test_the_shipped_deadlines_are_the_domain_tables_nine_and_the_three_dsa_clocks():
    assert set(RULES.deadlines) == {
        "police_report", "leader_conversation", "work_injury_report", "private_prosecution",
        "justification_suit", "compensation_application", "gdpr_answer", "dsa_internal_complaint",
        "med_evaluation", "dsa_notice_receipt", "dsa_notice_decision", "dsa_dispute_decision"}


def test_every_shipped_deadline_says_whether_its_legal_source_was_checked_and_against_what():
    for rule in RULES.deadlines.values():
        assert rule.verification is not None, rule.id
        assert rule.verification.status in ("verified", "unverified") and rule.verification.checked_against


def test_after_a_refusal_the_ladder_goes_to_the_internal_complaint_then_dispute_settlement():
    assert next_rung(RULES, {}, after="platform_notice").id == "internal_complaint"
    assert next_rung(RULES, {}, after="internal_complaint").id == "dispute_settlement"
    assert RULES.step("internal_complaint").letter == "dsa_internal_complaint"
    assert RULES.step("dispute_settlement").letter == "dsa_dispute_settlement"


def test_the_72_hour_police_clock_is_elapsed_time_from_the_episode_and_can_be_closed_by_a_note():
    rule = RULES.deadlines["police_report"]
    assert (rule.length.amount, rule.length.unit, rule.counting, rule.starts_at) == (72, "hours", "elapsed", "episode")
    assert rule.closable_by_note
    assert RULES.deadline_of(RULES.step("police_report")) is rule


def test_every_letter_template_is_offered_by_some_step():
    assert {s.letter for s in RULES.steps if s.letter} == set(LETTERS)


def test_the_datatilsynet_rung_needs_disclosed_private_information_that_is_not_defamatory():
    assert RULES.step("datatilsynet_complaint").precondition == ("private_information_disclosed", "not_defamatory")


def test_every_ladder_rung_says_how_long_to_wait_for_an_answer_and_no_other_step_does():
    assert all(s.wait_days for s in RULES.ladder)
    assert all(s.wait_days is None for s in RULES.checklist + RULES.alternatives)


def test_the_rule_files_ship_as_package_data():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["tracker.workflow.rules"]
    assert "*.toml" in patterns and "letters/*.j2" in patterns
    assert RULES_DIR == ROOT / "tracker" / "workflow" / "rules"


def test_the_vocabularies_the_files_may_use_are_documented_in_the_files():
    response = (RULES_DIR / "response.toml").read_text(encoding="utf-8")
    assert all(name in response for name in (*PRECONDITIONS, *LETTERS))
    assert all(s.starts_at in CLOCK_STARTS for s in RULES.deadlines.values())


# ---- the ladder as data --------------------------------------------------------------------------

def test_an_anonymous_author_takes_the_ladder_straight_to_the_platform():
    assert next_rung(RULES, {"author_known": False}).id == "platform_notice"


def test_a_known_author_is_asked_first_and_the_platform_next():
    assert next_rung(RULES, {"author_known": True}).id == "request_to_author"
    assert next_rung(RULES, {"author_known": True}, after="request_to_author").id == "platform_notice"


def test_after_the_platform_the_datatilsynet_rung_applies_only_to_private_information_that_is_not_defamatory():
    private = {"private_information_disclosed": True, "not_defamatory": True}
    assert next_rung(RULES, private, after="dispute_settlement").id == "datatilsynet_complaint"
    defamatory = {"private_information_disclosed": True, "not_defamatory": False}
    assert next_rung(RULES, defamatory, after="dispute_settlement").id == "injunction"
    assert next_rung(RULES, {**defamatory, "serious_case": False}, after="dispute_settlement") is None


def test_a_step_that_is_not_a_rung_cannot_be_climbed_from():
    with pytest.raises(DomainError) as e:
        next_rung(RULES, {}, after="follow_up")
    assert e.value.code == "not_a_rung"


def test_the_declined_note_applies_only_when_the_employee_declines_and_unknown_is_not_yet_known():
    step = RULES.step("declined_police_report_note")
    assert preconditions_hold(step, {"police_report_declined": True}) is True
    assert preconditions_hold(step, {"police_report_declined": False}) is False
    assert preconditions_hold(step, {}) is None


def test_a_rung_waits_its_days_for_an_answer_on_the_local_calendar():
    sent = datetime(2026, 10, 22, 10, tzinfo=COPENHAGEN)
    assert answer_due(RULES.step("platform_notice"), sent) == datetime(2026, 10, 29, 10, tzinfo=COPENHAGEN)


# ---- broken copies -------------------------------------------------------------------------------

KNOWN_DEADLINES = ("police_report, leader_conversation, work_injury_report, private_prosecution, "
                   "justification_suit, compensation_application, gdpr_answer, dsa_internal_complaint, "
                   "med_evaluation, dsa_notice_receipt, dsa_notice_decision, dsa_dispute_decision")
BROKEN = [
    pytest.param("response.toml", 'id = "police_report"\n', 'id = "police_report"\ncolour = "red"\n',
                 "step 'police_report', field 'colour': unknown key", id="unknown key"),
    pytest.param("response.toml", 'label_en = "Mediation"\n', "",
                 "step 'mediation', field 'label_en': missing", id="missing label"),
    pytest.param("response.toml", 'label_da = "Mægling"', 'label_da = "  "',
                 "step 'mediation', field 'label_da': String should have at least 1 character",
                 id="blank label"),
    pytest.param("response.toml", 'deadline = "work_injury_report"', 'deadline = "work_injury_9d"',
                 f"step 'work_injury_report', field 'deadline': unknown deadline id 'work_injury_9d' "
                 f"(in deadlines.toml: {KNOWN_DEADLINES})", id="unknown deadline id"),
    pytest.param("response.toml", 'precondition = "author_known"\nletter = "request_to_author"',
                 'precondition = "author_is_known"\nletter = "request_to_author"',
                 "step 'request_to_author', field 'precondition': unknown precondition 'author_is_known' "
                 f"(known: {', '.join(PRECONDITIONS)})", id="unknown precondition"),
    pytest.param("response.toml", 'letter = "dsa_notice"', 'letter = "dsa_notise"',
                 f"step 'platform_notice', field 'letter': unknown letter template 'dsa_notise' "
                 f"(known: {', '.join(LETTERS)})", id="unknown letter"),
    pytest.param("response.toml", 'id = "follow_up"', 'id = "apv_action_plan"',
                 "step 'apv_action_plan', field 'id': duplicate id (also step #9)", id="duplicate id"),
    pytest.param("response.toml", 'id = "follow_up"\nkind = "checklist"\norder = 10',
                 'id = "follow_up"\nkind = "checklist"\norder = 9',
                 "step 'follow_up', field 'order': order 9 is used twice in the checklist", id="repeated order"),
    pytest.param("response.toml", 'id = "injunction"\nkind = "ladder"\norder = 6',
                 'id = "injunction"\nkind = "ladder"\norder = 7',
                 "step 'injunction', field 'order': ladder orders must run 1, 2, 3 … without gaps: "
                 "expected 6, found 7", id="gap in orders"),
    pytest.param("response.toml", 'id = "injunction"\nkind = "ladder"\norder = 6',
                 'id = "injunction"\nkind = "ladder"\norder = 0',
                 "step 'injunction', field 'order': Input should be greater than or equal to 1", id="order zero"),
    pytest.param("response.toml", 'kind = "alternative"', 'kind = "option"',
                 "step 'mediation', field 'kind': Input should be 'checklist', 'ladder' or 'alternative'",
                 id="unknown kind"),
    pytest.param("response.toml", 'actor = "employee"\n\n[[step]]\nid = "inform_leader"',
                 'actor = "citizen"\n\n[[step]]\nid = "inform_leader"',
                 "step 'secure_evidence', field 'actor': Input should be 'employee', 'leader', 'amr', 'hr' "
                 "or 'leader+employee'", id="unknown actor"),
    pytest.param("response.toml", "deadline = \"gdpr_answer\"\nwait_days = 90\n", "deadline = \"gdpr_answer\"\n",
                 "step 'datatilsynet_complaint', field 'wait_days': required on a ladder rung",
                 id="rung without wait_days"),
    pytest.param("response.toml", 'deadline = "med_evaluation"\n', 'deadline = "med_evaluation"\nwait_days = 3\n',
                 "step 'med_evaluation', field 'wait_days': only ladder rungs wait for an answer",
                 id="wait_days on a checklist step"),
    pytest.param("response.toml", 'precondition = "author_known"\nletter = "request_to_author"',
                 'precondition = "previous_rung_failed"\nletter = "request_to_author"',
                 "step 'request_to_author', field 'precondition': previous_rung_failed fits only a ladder "
                 "rung above the first", id="first rung after a failed rung"),
    pytest.param("response.toml", "[[step]]\nid = \"secure_evidence\"", "steps = 1\n[[step]]\nid = \"secure_evidence\"",
                 "unknown top-level key 'steps' (expected only [[step]] tables)", id="unknown top-level key"),
    pytest.param("deadlines.toml", 'length = { amount = 14, unit = "days" }', 'length = { amount = 14, unit = "fortnights" }',
                 "deadline 'work_injury_report', field 'length.unit': Input should be 'hours', 'working_days', "
                 "'days', 'weeks', 'months' or 'years'", id="unknown unit"),
    pytest.param("deadlines.toml", 'counting = "elapsed"', 'counting = "calendar"',
                 "deadline 'police_report', field 'counting': must be 'elapsed' for a length in hours, "
                 "not 'calendar'", id="counting does not fit the unit"),
    pytest.param("deadlines.toml", 'starts_at = "injunction_granted"', 'starts_at = "injunction_final"',
                 "deadline 'justification_suit', field 'starts_at': unknown clock start 'injunction_final' "
                 f"(known: {', '.join(CLOCK_STARTS)})", id="unknown clock start"),
    pytest.param("deadlines.toml", 'at_risk_before = { amount = 24, unit = "hours" }',
                 'at_risk_before = { amount = 4, unit = "days" }',
                 "deadline 'police_report', field 'at_risk_before': 4 days must be shorter than the length "
                 "(72 hours)", id="warning longer than the rule"),
    pytest.param("deadlines.toml", 'day_ends_at = "16:00"\n', "",
                 "deadline 'leader_conversation', field 'day_ends_at': required for a length in working_days, "
                 "and only then", id="working days without an end of day"),
    pytest.param("deadlines.toml", 'day_ends_at = "16:00"', 'day_ends_at = "16:00+01:00"',
                 "deadline 'leader_conversation', field 'day_ends_at': a local time without a time zone "
                 "(Copenhagen is implied)", id="end of day with a time zone"),
    pytest.param("deadlines.toml", 'extension = { amount = 2, unit = "months" }',
                 'extension = { amount = 60, unit = "days" }',
                 "deadline 'gdpr_answer', field 'extension': must be in the length's unit (months)",
                 id="extension in another unit"),
    pytest.param("deadlines.toml", 'legal_source = "Straffeloven § 96, stk. 1, jf. § 275"\n', "",
                 "deadline 'private_prosecution', field 'legal_source': missing", id="missing legal source"),
    pytest.param("deadlines.toml", 'id = "gdpr_answer"', 'id = "police_report"',
                 "deadline 'police_report', field 'id': duplicate id (also deadline #1)", id="duplicate deadline"),
    pytest.param("deadlines.toml", 'id = "med_evaluation"', 'id = "MED evaluation"',
                 "deadline 'MED evaluation', field 'id': String should match pattern '^[a-z][a-z0-9_]*$'",
                 id="id not a slug"),
]


@pytest.fixture
def broken_copy(tmp_path):
    """Copy the shipped rules to tmp_path with one text replaced; returns (directory, file)."""
    def make(file: str, old: str, new: str) -> Path:
        for name in ("response.toml", "deadlines.toml"):
            shutil.copy(RULES_DIR / name, tmp_path / name)
        text = (tmp_path / file).read_text(encoding="utf-8")
        assert text.count(old) == 1, f"the shipped {file} changed: {old!r} is no longer there once"
        (tmp_path / file).write_text(text.replace(old, new), encoding="utf-8")
        return tmp_path / file
    return make


@pytest.mark.parametrize(("file", "old", "new", "problem"), BROKEN)
def test_a_broken_rule_file_fails_with_one_line_naming_the_file_the_entry_and_the_field(
        broken_copy, file, old, new, problem):
    path = broken_copy(file, old, new)
    with pytest.raises(RulesError) as e:
        load_rules(path.parent)
    assert str(e.value) == f"{path}: {problem}"
    assert "\n" not in str(e.value)
    assert e.value.code == "rules_invalid"


def test_a_rule_file_that_is_not_toml_fails_with_the_line_of_the_mistake(broken_copy):
    path = broken_copy("deadlines.toml", 'counting = "elapsed"', "counting = elapsed")
    with pytest.raises(RulesError) as e:
        load_rules(path.parent)
    assert str(e.value).startswith(f"{path}: not valid TOML: ")
    line = (RULES_DIR / "deadlines.toml").read_text(encoding="utf-8").split("\n").index('counting = "elapsed"') + 1
    assert f"(at line {line}, column 12)" in str(e.value) and "\n" not in str(e.value)


def test_a_missing_rule_file_is_named(tmp_path):
    shutil.copy(RULES_DIR / "deadlines.toml", tmp_path / "deadlines.toml")
    with pytest.raises(RulesError) as e:
        load_rules(tmp_path)
    assert str(e.value) == f"{tmp_path / 'response.toml'}: cannot read the file: No such file or directory"


def test_a_rule_file_without_entries_is_refused(tmp_path):
    shutil.copy(RULES_DIR / "deadlines.toml", tmp_path / "deadlines.toml")
    (tmp_path / "response.toml").write_text("# nothing yet\n", encoding="utf-8")
    with pytest.raises(RulesError) as e:
        load_rules(tmp_path)
    assert str(e.value) == f"{tmp_path / 'response.toml'}: no [[step]] entries"


def test_a_step_without_an_id_is_named_by_its_position(broken_copy):
    path = broken_copy("response.toml", 'id = "inform_leader"\n', "")
    with pytest.raises(RulesError) as e:
        load_rules(path.parent)
    assert str(e.value) == f"{path}: step #2, field 'id': missing"
