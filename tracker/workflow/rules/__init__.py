"""Værn's rule files: the response checklist and ladder (response.toml) and the deadlines (deadlines.toml).

A municipality edits the files, not code. ``load_rules()`` reads and checks both at start; any
problem is a ``RulesError`` whose message is one line naming the file, the entry and the field.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, ValidationError

from tracker.workflow.checklist import Step
from tracker.workflow.deadlines import DeadlineRule
from tracker.datafile import DataFileError, read_entries
from tracker.errors import DomainError

RULES_DIR = Path(__file__).resolve().parent  #: the shipped rules
RESPONSE_FILE = "response.toml"
DEADLINES_FILE = "deadlines.toml"


class RulesError(DataFileError):
    """A rule file is invalid; the message is one line naming the file, the entry and the field."""

    code_for_file = "rules_invalid"
    one_line = False  # keeps the problem text as given, as this class always did


@dataclass(frozen=True)
class Rules:
    """The checked rules: steps by kind in order, deadline rules by id."""

    steps: tuple[Step, ...]
    deadlines: Mapping[str, DeadlineRule]
    directory: Path

    def _of_kind(self, kind: str) -> tuple[Step, ...]:
        return tuple(sorted((s for s in self.steps if s.kind == kind), key=lambda s: s.order))

    @property
    def checklist(self) -> tuple[Step, ...]:
        return self._of_kind("checklist")

    @property
    def ladder(self) -> tuple[Step, ...]:
        return self._of_kind("ladder")

    @property
    def alternatives(self) -> tuple[Step, ...]:
        return self._of_kind("alternative")

    def step(self, step_id: str) -> Step:
        """The step with this id; DomainError if there is none."""
        for step in self.steps:
            if step.id == step_id:
                return step
        raise DomainError("unknown_step", f"no step {step_id!r} in the rules", "step")

    def deadline_of(self, step: Step) -> DeadlineRule | None:
        return None if step.deadline is None else self.deadlines[step.deadline]


def load_rules(path: Path | str | None = None) -> Rules:
    """Read and check the rule files in directory ``path`` (default: the shipped rules).

    Call it at start; raises RulesError (one line: file, entry, field) on the first problem.
    """
    directory = Path(path) if path is not None else RULES_DIR
    deadline_file, response_file = directory / DEADLINES_FILE, directory / RESPONSE_FILE
    deadlines = _load_entries(deadline_file, "deadline", DeadlineRule)
    steps = _load_entries(response_file, "step", Step)
    by_id = {rule.id: rule for rule in deadlines}
    _check_references(response_file, steps, by_id)
    _check_orders(response_file, steps)
    return Rules(steps=tuple(steps), deadlines=MappingProxyType(by_id), directory=directory)


def _load_entries(file: Path, table: str, model: type[BaseModel]) -> list[Any]:
    entries, seen = [], {}
    for number, (name, raw) in enumerate(read_entries(file, table, RulesError), start=1):
        try:
            entry = model.model_validate(raw)
        except ValidationError as e:
            field, problem = _first_problem(e)
            raise RulesError(file, name, field, problem) from None
        if entry.id in seen:
            raise RulesError(file, name, "id", f"duplicate id (also {table} #{seen[entry.id]})")
        seen[entry.id] = number
        entries.append(entry)
    return entries


def _first_problem(error: ValidationError) -> tuple[str | None, str]:
    first = error.errors(include_url=False)[0]
    field = ".".join(str(part) for part in first["loc"]) or None
    if first["type"] == "extra_forbidden":
        return field, "unknown key"
    if first["type"] == "missing":
        return field, "missing"
    return field, first["msg"].removeprefix("Value error, ")


def _check_references(file: Path, steps: list[Step], deadlines: Mapping[str, DeadlineRule]) -> None:
    """Each step's deadline exists; ``previous_rung_failed`` only on a rung that has a previous one; a
    deadline's ``met_when`` / ``moot_when`` names a ladder rung."""
    rungs = {s.id for s in steps if s.kind == "ladder"}
    for rule in deadlines.values():
        for name, link in (("met_when", rule.met_when), ("moot_when", rule.moot_when)):
            if link is not None and link.step not in rungs:
                raise RulesError(file.parent / DEADLINES_FILE, f"deadline {rule.id!r}", f"{name}.step",
                                 f"unknown ladder rung {link.step!r}")
    for step in steps:
        where = f"step {step.id!r}"
        if step.deadline is not None and step.deadline not in deadlines:
            raise RulesError(file, where, "deadline", f"unknown deadline id {step.deadline!r} "
                                                      f"(in {DEADLINES_FILE}: {', '.join(deadlines)})")
        if "previous_rung_failed" in step.precondition and (step.kind != "ladder" or step.order == 1):
            raise RulesError(file, where, "precondition",
                             "previous_rung_failed fits only a ladder rung above the first")


def _check_orders(file: Path, steps: list[Step]) -> None:
    """Within each kind, orders run 1, 2, 3 … with no gap and no repeat."""
    for kind in ("checklist", "ladder", "alternative"):
        expected = 1
        for step in sorted((s for s in steps if s.kind == kind), key=lambda s: s.order):
            if step.order != expected:
                problem = (f"order {step.order} is used twice in the {kind}" if step.order == expected - 1
                           else f"{kind} orders must run 1, 2, 3 … without gaps: expected {expected}, "
                                f"found {step.order}")
                raise RulesError(file, f"step {step.id!r}", "order", problem)
            expected += 1


# -- a municipality's own copies (additive: the shipped files stay the default) ----------------------
def load_rule_files(deadlines_file: Path | str, response_file: Path | str) -> Rules:
    """Read and check these two files (they may lie in different folders); RulesError (one line) as load_rules."""
    deadline_file, response_file = Path(deadlines_file), Path(response_file)
    deadlines = _load_entries(deadline_file, "deadline", DeadlineRule)
    steps = _load_entries(response_file, "step", Step)
    by_id = {rule.id: rule for rule in deadlines}
    _check_references(response_file, steps, by_id)
    _check_orders(response_file, steps)
    return Rules(steps=tuple(steps), deadlines=MappingProxyType(by_id), directory=response_file.parent)


def rule_file_in_force(name: str, override_dir: Path | str | None) -> Path:
    """``override_dir/name`` where the municipality saved its own copy, else the shipped file."""
    if override_dir is not None and (Path(override_dir) / name).is_file():
        return Path(override_dir) / name
    return RULES_DIR / name


def load_rules_with_overrides(override_dir: Path | str | None) -> Rules:
    """The rules in force: each file from ``override_dir`` where it holds one, else shipped (RulesError as load_rules)."""
    return load_rule_files(rule_file_in_force(DEADLINES_FILE, override_dir),
                           rule_file_in_force(RESPONSE_FILE, override_dir))
