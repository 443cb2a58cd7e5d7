"""The response checklist and takedown ladder: the step model and pure questions about steps.

Steps are data (``tracker/workflow/rules/response.toml``, loaded by ``tracker.workflow.rules.load_rules``). A step
may name a deadline rule, a letter template and preconditions from the fixed vocabulary below.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator

from tracker.workflow.deadlines import Length, Slug, Text, shift
from tracker.errors import DomainError

if TYPE_CHECKING:
    from tracker.workflow.rules import Rules

Kind = Literal["checklist", "ladder", "alternative"]
Actor = Literal["employee", "leader", "amr", "hr", "leader+employee"]

#: the facts a step can depend on; a case answers each with True, False or not yet (absent)
PRECONDITIONS: dict[str, str] = {
    "author_known": "the author (the citizen behind the post) is known",
    "police_report_declined": "the employee does not want the episode reported to the police",
    "private_information_disclosed": "private information was published (address, race, political "
                                     "views, private photos)",
    "not_defamatory": "the content is not defamatory (freds- og ærekrænkende)",
    "previous_rung_failed": "the ladder's previous rung was tried and failed, or did not apply",
    "serious_case": "the leader judges the case serious enough for the courts",
}
#: letter templates a step can offer (drafted by tracker.workflow.letters)
LETTERS: tuple[str, ...] = (
    "request_to_author", "dsa_notice", "dsa_internal_complaint", "dsa_dispute_settlement", "datatilsynet_complaint",
    "declined_police_report_note",
    "citizen_channels_letter", "police_evidence_annex",
)


def _as_tuple(value):
    return (value,) if isinstance(value, str) else value


class Step(BaseModel):
    """One checklist step, ladder rung or alternative, as written in response.toml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Slug
    kind: Kind
    order: int = Field(ge=1)  #: position within its kind, 1, 2, 3 … without gaps
    label_da: Text
    label_en: Text
    guideline_da: Text  #: the guideline sentence(s) the step comes from, verbatim
    source: Text  #: where in the guideline (section, Chefforum point)
    actor: Actor
    deadline: Slug | None = None  #: id of a rule in deadlines.toml
    #: all must hold; one name or a list
    precondition: Annotated[tuple[Slug, ...], BeforeValidator(_as_tuple)] = ()
    letter: Slug | None = None
    wait_days: int | None = Field(None, ge=1, le=365, validate_default=True)  #: ladder: days to await an answer

    @field_validator("precondition")
    @classmethod
    def _known_preconditions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if name not in PRECONDITIONS:
                raise ValueError(f"unknown precondition {name!r} (known: {', '.join(PRECONDITIONS)})")
        if len(set(value)) != len(value):
            raise ValueError("a precondition is listed twice")
        return value

    @field_validator("letter")
    @classmethod
    def _known_letter(cls, value: str | None) -> str | None:
        if value is not None and value not in LETTERS:
            raise ValueError(f"unknown letter template {value!r} (known: {', '.join(LETTERS)})")
        return value

    @field_validator("wait_days")
    @classmethod
    def _wait_days_on_rungs_only(cls, value: int | None, info: ValidationInfo) -> int | None:
        kind = info.data.get("kind")
        if kind == "ladder" and value is None:
            raise ValueError("required on a ladder rung")
        if kind is not None and kind != "ladder" and value is not None:
            raise ValueError("only ladder rungs wait for an answer")
        return value


def preconditions_hold(step: Step, facts: Mapping[str, bool]) -> bool | None:
    """True if all the step's preconditions hold, False if one fails, None if one is not yet known."""
    answers = [facts.get(name) for name in step.precondition]
    if False in answers:
        return False
    return None if None in answers else True


def answer_due(step: Step, sent_at: datetime) -> datetime:
    """When a ladder rung's request has waited long enough to suggest the next rung (Copenhagen time)."""
    if step.wait_days is None:
        raise DomainError("not_a_rung", f"step {step.id!r} is not a ladder rung", "step")
    return shift(sent_at, Length(amount=step.wait_days, unit="days"))


def next_rung(rules: Rules, facts: Mapping[str, bool], after: str | None = None) -> Step | None:
    """The first ladder rung above ``after`` (None: from the bottom) that the facts do not rule out.

    Passing ``after`` means that rung failed or was skipped; a rung ruled out by the facts counts as
    passed over, so ``previous_rung_failed`` holds for the rung after it. A rung whose facts are not
    yet known is suggested: the leader answers the question. Raises DomainError for an ``after``
    that is not a ladder rung.
    """
    rungs = rules.ladder
    if after is not None:
        current = rules.step(after)
        if current.kind != "ladder":
            raise DomainError("not_a_rung", f"step {after!r} is not a ladder rung", "after")
        rungs = tuple(s for s in rungs if s.order > current.order)
    passed = after is not None
    for rung in rungs:
        if preconditions_hold(rung, {**facts, "previous_rung_failed": passed}) is not False:
            return rung
        passed = True
    return None
