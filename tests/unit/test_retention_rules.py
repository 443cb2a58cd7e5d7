"""The retention rules file (issue 16): the shipped file loads, every rule names its sources, and a bad copy is
refused with one line naming the file, the rule and the field."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tracker.accounts.rule_files import RuleFileError, rule_file, validate_rule_file
from tracker.workflow.retention import DEFAULT_PATH, RetentionRulesError, load_retention_rules, retention_in_force


def test_the_shipped_rules_keep_closed_cases_five_years_and_mark_each_source_verified_or_not():
    rules = load_retention_rules()
    case = rules.enforced("closed_case")
    assert case is not None and case.keep_years == 5 and case.keep == timedelta(days=5 * 365 + 1)
    assert {r.applies_to for r in rules.rules} == {"closed_case", "offender_unlinked", "offender_suggestion", "audit_event"}
    assert rules.enforced("audit_event") is None  # policy only: the chain cannot erase its events (yet)
    assert all(r.sources for r in rules.rules)
    sources = [s for r in rules.rules for s in r.sources]
    assert any(s.verified for s in sources) and any(not s.verified for s in sources)
    as_of = datetime(2031, 6, 1, tzinfo=timezone.utc)
    assert case.due_before(as_of) == as_of - case.keep


def _write(tmp_path, text: str):
    path = tmp_path / "retention.toml"
    path.write_text(text, encoding="utf-8")
    return path


RULE = """
[[rule]]
id = "closed_case"
applies_to = "closed_case"
{keep}
enforced = true
label_da = "Lukkede sager"
note_da = "Slettes efter lukning"
{sources}
"""
SOURCE = """
[[rule.sources]]
text = "GDPR art. 5, stk. 1, litra e"
verified = true
checked = "læst"
"""


@pytest.mark.parametrize("keep, sources, field, problem", [
    ("keep_years = 11", SOURCE, "keep_years", "kept 1 to 10 years"),
    ("keep_years = 0", SOURCE, "keep_years", "kept 1 to 10 years"),
    ("keep_years = 5\nkeep_days = 3", SOURCE, "keep_years", "exactly one"),
    ("keep_years = 5", "", "sources", "Field required"),
    ("keep_years = 5\nsources = []", "", "sources", "at least one legal source"),
    ("keep_years = 5", SOURCE.replace('verified = true\n', ''), "sources.verified", "Field required"),
])
def test_a_bad_rule_is_refused_naming_the_file_the_rule_and_the_field(tmp_path, keep, sources, field, problem):
    path = _write(tmp_path, RULE.format(keep=keep, sources=sources))
    with pytest.raises(RetentionRulesError) as refused:
        load_retention_rules(path)
    assert refused.value.message.startswith(f"{path}: rule 'closed_case', field {field!r}: ")
    assert problem in refused.value.message


def test_two_enforced_rules_for_one_kind_are_refused(tmp_path):
    one = RULE.format(keep="keep_years = 5", sources=SOURCE)
    path = _write(tmp_path, one + one.replace('id = "closed_case"', 'id = "other"'))
    with pytest.raises(RetentionRulesError, match="another enforced rule already applies to closed_case"):
        load_retention_rules(path)


def test_the_municipalitys_copy_replaces_the_shipped_file_and_is_checked_like_the_other_rule_files(tmp_path):
    assert retention_in_force(tmp_path).path == DEFAULT_PATH
    _write(tmp_path, RULE.format(keep="keep_years = 7", sources=SOURCE))
    assert retention_in_force(tmp_path).enforced("closed_case").keep_years == 7
    file = rule_file("retention")
    validate_rule_file(tmp_path / "none", file, DEFAULT_PATH.read_text(encoding="utf-8"))
    with pytest.raises(RuleFileError) as refused:
        validate_rule_file(tmp_path / "none", file, RULE.format(keep="keep_years = 12", sources=SOURCE))
    assert refused.value.message.startswith("retention.toml: rule 'closed_case', field 'keep_years'")
