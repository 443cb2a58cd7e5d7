"""Deadline clocks: when a rule falls due from its start, and where a case stands against it.

Pure functions over ``DeadlineRule`` (the rules live as data in ``tracker/workflow/rules/deadlines.toml``).
Every instant is timezone-aware. Hours are exact elapsed time; days, weeks, months and years are
counted on Copenhagen's wall clock (the same local time on the target date, a month's end clamped
to its last day); working days end at the rule's ``day_ends_at``. A clock whose start is unknown
is reported as such, never guessed.
"""
from __future__ import annotations

import calendar
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from tracker.errors import DomainError

COPENHAGEN = ZoneInfo("Europe/Copenhagen")

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Unit = Literal["hours", "working_days", "days", "weeks", "months", "years"]
Counting = Literal["elapsed", "calendar", "working_days"]

#: how each unit is counted; a rule must say so explicitly, and consistently
COUNTING_OF_UNIT: dict[str, str] = {
    "hours": "elapsed", "working_days": "working_days",
    "days": "calendar", "weeks": "calendar", "months": "calendar", "years": "calendar",
}
#: the named events a clock can start (or restart) at; the case records each as an instant or unknown
CLOCK_STARTS: dict[str, str] = {
    "episode": "when the post was made / the offence happened",
    "case_opened": "when the case was opened in Værn",
    "absence_start": "the first day of absence after the injury day (or the injury day if there is "
                     "no absence but a claim is likely)",
    "knowledge_of_author": "when the entitled person knew enough about the post and its author",
    "injunction_granted": "the day the injunction (fogedforbud) was granted",
    "request_sent": "when the erasure request reached the controller",
    "platform_decision": "when the platform told the notifier its decision (recorded on the platform "
                         "notice's rung, or set by hand)",
    "notice_sent": "when the notice to the platform was sent (the platform notice's rung)",
    "dispute_filed": "when the complaint reached the out-of-court dispute settlement body (its rung's sent time)",
    "judgment_final": "when a judgment in the criminal case became final",
    "investigation_discontinued": "when the police decided to drop the investigation",
    "previous_med_evaluation": "the previous MED evaluation of the local handling",
}
#: rough bounds in hours, only to check that a rule's warning period is shorter than the rule
_MIN_HOURS = {"hours": 1, "days": 23, "weeks": 167, "months": 28 * 24 - 1, "years": 365 * 24 - 1}
_MAX_HOURS = {"hours": 1, "days": 25, "weeks": 169, "months": 31 * 24 + 1, "years": 366 * 24 + 1}


class Length(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    amount: int = Field(ge=0, le=1000)
    unit: Unit

    def __str__(self) -> str:
        return f"{self.amount} {self.unit}"


RungField = Literal["sent_at", "receipt_at", "decided_at", "done_at"]


class MetWhen(BaseModel):
    """The clock is met once ``step``'s row has any of ``fields`` (e.g. the platform confirmed receipt)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    step: Slug
    fields: tuple[RungField, ...] = Field(min_length=1)


class MootWhen(BaseModel):
    """The clock no longer matters once ``step``'s outcome is one of ``outcomes`` (e.g. removed)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    step: Slug
    outcomes: tuple[Slug, ...] = Field(min_length=1)


class Verification(BaseModel):
    """Whether the rule's legal source was checked against the official text, and where."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: Literal["verified", "unverified"]
    checked_against: Text  #: the text the citation was compared with (URL), or why it could not be
    note_da: str = ""


class DeadlineRule(BaseModel):
    """One legal or guideline deadline, as written in deadlines.toml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Slug
    label_da: Text
    label_en: Text
    length: Length
    counting: Counting
    starts_at: Slug  #: a name from CLOCK_STARTS
    restarts_at: tuple[Slug, ...] = ()  #: later events that start the clock afresh (the latest wins)
    legal_source: Text
    consequence_da: Text
    at_risk_before: Length  #: how long before it is due the clock turns "at risk"
    extension: Length | None = None  #: added to ``length`` when the other side extends (GDPR art. 12(3))
    closable_by_note: bool = False  #: a leader's note may close it as met (declined police report)
    met_when: MetWhen | None = None  #: met by a recorded time on a rung rather than by the step being done
    moot_when: MootWhen | None = None  #: closed once a rung has one of these outcomes
    verification: Verification | None = None  #: the legal source checked against the official text, or not
    #: working_days only: when the working day ends, local time
    day_ends_at: time | None = Field(None, validate_default=True)

    @field_validator("starts_at", "restarts_at")
    @classmethod
    def _known_clock_start(cls, value):
        for name in (value,) if isinstance(value, str) else value:
            if name not in CLOCK_STARTS:
                raise ValueError(f"unknown clock start {name!r} (known: {', '.join(CLOCK_STARTS)})")
        return value

    # checks across fields; each names its own field (earlier fields are in info.data when valid)
    @field_validator("counting")
    @classmethod
    def _counting_fits_unit(cls, value: str, info: ValidationInfo) -> str:
        length = info.data.get("length")
        if length is not None and value != COUNTING_OF_UNIT[length.unit]:
            raise ValueError(f"must be {COUNTING_OF_UNIT[length.unit]!r} for a length in {length.unit}, "
                             f"not {value!r}")
        return value

    @field_validator("at_risk_before")
    @classmethod
    def _shorter_than_length(cls, value: Length, info: ValidationInfo) -> Length:
        length = info.data.get("length")
        if value.unit == "working_days":
            raise ValueError("cannot be in working_days")
        if (length is not None and length.unit != "working_days"
                and value.amount * _MAX_HOURS[value.unit] >= length.amount * _MIN_HOURS[length.unit]):
            raise ValueError(f"{value} must be shorter than the length ({length})")
        return value

    @field_validator("extension")
    @classmethod
    def _same_unit(cls, value: Length | None, info: ValidationInfo) -> Length | None:
        length = info.data.get("length")
        if value is not None and length is not None and value.unit != length.unit:
            raise ValueError(f"must be in the length's unit ({length.unit})")
        return value

    @field_validator("day_ends_at")
    @classmethod
    def _working_days_only(cls, value: time | None, info: ValidationInfo) -> time | None:
        length = info.data.get("length")
        if length is not None and (length.unit == "working_days") != (value is not None):
            raise ValueError("required for a length in working_days, and only then")
        if value is not None and value.tzinfo is not None:
            raise ValueError("a local time without a time zone (Copenhagen is implied)")
        return value


class State(enum.StrEnum):
    met = "met"
    open = "open"
    at_risk = "at_risk"
    overdue = "overdue"
    unknown_start = "unknown_start"


@dataclass(frozen=True)
class DeadlineStatus:
    rule_id: str
    state: State
    legal_source: str
    start: datetime | None
    due: datetime | None  #: Copenhagen time; None while the start is unknown
    at_risk_from: datetime | None
    remaining: timedelta | None  #: due - now (negative once overdue); None when met or start unknown
    met_at: datetime | None = None
    met_late: bool | None = None  #: met after it was due; None when that cannot be told
    closed_note: str | None = None  #: the note that closed the clock (declined police report)


def _require_aware(name: str, value: datetime | None) -> None:
    if value is not None and value.utcoffset() is None:
        raise DomainError("naive_datetime", f"{name} needs a time zone", name)


def _utc(instant: datetime) -> datetime:
    # compare and subtract in UTC: Python ignores offsets between two datetimes with the same tzinfo
    return instant.astimezone(timezone.utc)


def _wall(instant: datetime) -> datetime:
    """The naive local reading of Copenhagen's clocks at ``instant`` (via UTC, so a skipped time shows)."""
    return _utc(instant).astimezone(COPENHAGEN).replace(tzinfo=None)


def at_wall_time(wall: datetime) -> datetime:
    """The first instant at which Copenhagen's clocks read ``wall`` (naive) or later.

    An ambiguous time (the October hour that happens twice) is its first occurrence; a time skipped
    in March is the moment the clocks jump past it (03:00 CEST). Both err towards the earlier instant.
    """
    first = wall.replace(tzinfo=COPENHAGEN, fold=0)
    if _wall(first) == wall:
        return first
    lo = int(wall.replace(tzinfo=COPENHAGEN, fold=1).timestamp())  # before the jump
    hi = int(first.timestamp())  # after the jump
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _wall(datetime.fromtimestamp(mid, timezone.utc)) >= wall:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, COPENHAGEN)


def _add_months(wall: datetime, months: int) -> datetime:
    year, month0 = divmod(wall.year * 12 + wall.month - 1 + months, 12)
    day = min(wall.day, calendar.monthrange(year, month0 + 1)[1])
    return wall.replace(year=year, month=month0 + 1, day=day)


def shift(instant: datetime, length: Length, sign: int = 1) -> datetime:
    """``instant`` moved forward (sign 1) or back (sign -1) by a length not in working days."""
    _require_aware("instant", instant)
    n = sign * length.amount
    if length.unit == "hours":
        return (_utc(instant) + timedelta(hours=n)).astimezone(COPENHAGEN)
    wall = _wall(instant)
    if length.unit == "days":
        wall += timedelta(days=n)
    elif length.unit == "weeks":
        wall += timedelta(weeks=n)
    elif length.unit == "months":
        wall = _add_months(wall, n)
    elif length.unit == "years":
        wall = _add_months(wall, 12 * n)
    else:
        raise DomainError("bad_unit", f"cannot shift by {length.unit}", "unit")
    return at_wall_time(wall)


def _is_working_day(day: date) -> bool:
    return day.weekday() < 5


def _next_working_day(day: date) -> date:
    day += timedelta(days=1)
    while not _is_working_day(day):
        day += timedelta(days=1)
    return day


def _working_days_end(start: datetime, amount: int, day_ends_at: time) -> datetime:
    local = _wall(start)
    day = local.date()
    if not _is_working_day(day) or local.time() >= day_ends_at:
        day = _next_working_day(day)
    for _ in range(amount):
        day = _next_working_day(day)
    return at_wall_time(datetime.combine(day, day_ends_at))


def due_at(rule: DeadlineRule, start: datetime | None, *, extended: bool = False) -> datetime | None:
    """When the clock started at ``start`` falls due (Copenhagen time); None if the start is unknown.

    ``extended`` adds the rule's extension (raises DomainError if the rule has none).
    """
    if start is None:
        return None
    _require_aware("start", start)
    length = rule.length
    if extended:
        if rule.extension is None:
            raise DomainError("not_extendable", f"deadline {rule.id!r} cannot be extended", "extended")
        length = Length(amount=length.amount + rule.extension.amount, unit=length.unit)
    if length.unit == "working_days":
        assert rule.day_ends_at is not None  # checked when the rule was loaded
        return _working_days_end(start, length.amount, rule.day_ends_at)
    return shift(start, length)


def at_risk_from(rule: DeadlineRule, due: datetime | None) -> datetime | None:
    """When a clock due at ``due`` turns "at risk"."""
    return None if due is None else shift(due, rule.at_risk_before, sign=-1)


def start_for(rule: DeadlineRule, clocks: Mapping[str, datetime | None]) -> datetime | None:
    """The rule's start from a case's recorded events: the latest known restart, else its start event."""
    restarts = [clocks[name] for name in rule.restarts_at if clocks.get(name) is not None]
    if restarts:
        return max(restarts, key=_utc)
    return clocks.get(rule.starts_at)


def evaluate(rule: DeadlineRule, start: datetime | None, now: datetime, met_at: datetime | None = None,
             closed_note: str | None = None, *, extended: bool = False) -> DeadlineStatus:
    """Where a clock stands at ``now``: met, open, at risk, overdue, or start unknown.

    ``closed_note`` closes a clock that allows it (a declined police report) as met; the note is
    kept. Raises DomainError on naive datetimes or a note for a rule that cannot be closed by one.
    """
    for name, value in (("start", start), ("now", now), ("met_at", met_at)):
        _require_aware(name, value)
    if closed_note is not None:
        closed_note = closed_note.strip()
        if not rule.closable_by_note:
            raise DomainError("not_closable_by_note",
                              f"deadline {rule.id!r} cannot be closed by a note", "closed_note")
        if not closed_note:
            raise DomainError("closed_note_empty", "the closing note is empty", "closed_note")
    due = due_at(rule, start, extended=extended)
    risk = at_risk_from(rule, due)
    common = dict(rule_id=rule.id, legal_source=rule.legal_source, start=start, due=due, at_risk_from=risk)
    if closed_note is not None or met_at is not None:
        late = None if met_at is None or due is None else _utc(met_at) > _utc(due)
        return DeadlineStatus(state=State.met, remaining=None, met_at=met_at, met_late=late,
                              closed_note=closed_note, **common)
    if due is None:
        return DeadlineStatus(state=State.unknown_start, remaining=None, **common)
    if _utc(now) > _utc(due):
        state = State.overdue
    elif _utc(now) >= _utc(risk):
        state = State.at_risk
    else:
        state = State.open
    return DeadlineStatus(state=state, remaining=_utc(due) - _utc(now), **common)
