"""Retention rules as data: how long each kind of record is kept, with its legal sources (issue 16).

The data is ``tracker/workflow/rules/retention.toml``; a municipality's copy in ``<data_dir>/rules/retention.toml``
replaces it (edited on the admin's rule-file pages, checked at start and at each save). An invalid file raises
``RetentionRulesError`` with one line naming the file, the rule and the field. The erasure itself is
``tracker.cases.retention``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

from tracker.datafile import DataFileError, local_copy, read_entries, validated

DEFAULT_PATH = Path(__file__).resolve().parent / "rules" / "retention.toml"
FILE_NAME = DEFAULT_PATH.name
#: closed cases are kept at least this and at most that many years after closing (issue 16: default 5, at most 10)
CASE_YEARS = (1, 10)
KINDS = ("closed_case", "offender_unlinked", "offender_suggestion", "audit_event")

Text = Annotated[str, StringConstraints(strict=True, strip_whitespace=True, min_length=3)]


class RetentionRulesError(DataFileError):
    """The retention file is missing or invalid (one line: file, rule, field, problem)."""

    code_for_file = "retention_rules_invalid"


class Source(BaseModel):
    """A legal source; ``verified``: its wording was looked up and read (``checked`` says where and when)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: Text
    url: Text | None = None
    verified: bool
    checked: Text


class RetentionRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, StringConstraints(strict=True, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
    applies_to: Literal["closed_case", "offender_unlinked", "offender_suggestion", "audit_event"]
    keep_years: int | None = None
    keep_days: int | None = None
    enforced: bool
    label_da: Text
    note_da: Text
    sources: tuple[Source, ...]

    @property
    def keep(self) -> timedelta:
        """The keeping time; a year is 365 days plus one leap day per four whole years."""
        return timedelta(days=self.keep_days if self.keep_days is not None else 365 * (self.keep_years or 0) + (
            (self.keep_years or 0) // 4))

    def due_before(self, as_of: datetime) -> datetime:
        """Records whose start time lies before this are due on ``as_of``."""
        return as_of - self.keep


@dataclass(frozen=True)
class RetentionRules:
    rules: tuple[RetentionRule, ...]
    path: Path

    def enforced(self, kind: str) -> RetentionRule | None:
        """The enforced rule for ``kind`` (at most one may be enforced per kind), None if none is."""
        return next((r for r in self.rules if r.applies_to == kind and r.enforced), None)


def load_retention_rules(path: Path | str | None = None) -> RetentionRules:
    """Read and check the file (default: the shipped one); raise RetentionRulesError (one line) if invalid."""
    path = Path(path) if path is not None else DEFAULT_PATH
    rules: list[RetentionRule] = []
    for name, raw in read_entries(path, "rule", RetentionRulesError):
        rule = validated(RetentionRule, raw, path, name, RetentionRulesError)
        if any(r.id == rule.id for r in rules):
            raise RetentionRulesError(path, name, "id", f"{rule.id!r} is listed twice")
        if (rule.keep_years is None) == (rule.keep_days is None):
            raise RetentionRulesError(path, name, "keep_years", "give exactly one of keep_years and keep_days")
        if (rule.keep_years or 0) < 0 or (rule.keep_days or 0) < 0:
            raise RetentionRulesError(path, name, "keep_years" if rule.keep_years is not None else "keep_days",
                                      "must not be negative")
        if rule.applies_to == "closed_case":
            years = rule.keep_years if rule.keep_years is not None else (rule.keep_days or 0) / 365
            if not CASE_YEARS[0] <= years <= CASE_YEARS[1]:
                raise RetentionRulesError(path, name, "keep_years", f"closed cases are kept {CASE_YEARS[0]} to "
                                          f"{CASE_YEARS[1]} years after closing")
        if not rule.sources:
            raise RetentionRulesError(path, name, "sources", "a rule needs at least one legal source")
        if rule.enforced and any(r.applies_to == rule.applies_to and r.enforced for r in rules):
            raise RetentionRulesError(path, name, "enforced", f"another enforced rule already applies to {rule.applies_to}")
        rules.append(rule)
    return RetentionRules(tuple(rules), path)


def retention_in_force(override_dir: Path | str | None) -> RetentionRules:
    """The municipality's copy in ``override_dir`` when there is one, else the shipped file."""
    return load_retention_rules(local_copy(override_dir, FILE_NAME))
