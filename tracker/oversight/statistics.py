"""Statistics for MED: counts, the 72-hour police-report compliance, takedown outcomes, time to verified
removal and open overdue steps — plain rows, scoped by the viewer and a period.

Scope: the cases ``tracker.accounts.permissions.visible_cases(viewer)`` returns (HR all units; a leader or AMR
their own unit), opened (``Case.created_at``) within the period's Copenhagen calendar days, both ends
included. Open overdue steps are the exception: they describe *now*, so they cover every open case in
scope whatever its age. Deadline states come from ``tracker.workflow.steps.case_deadlines``, the same function
the case page uses; no rule is repeated here. Times and months are Copenhagen time. No Flask here:
the web layer adds labels in the reader's language.

Definitions
- Per offender type: a case counts once for each type among its offender links that are suggested or
  confirmed (dismissed links are ignored); a case without any counts as ``none``.
- 72-hour police report, for the cases with a known episode time, from the police-report clock:
  ``in_time``  the police-report step was done at most 72 hours after the episode;
  ``late``     it was done later than that;
  ``declined`` the employee did not want a report and the leader's note closed the clock;
  ``overdue``  not reported, not declined, and the 72 hours have passed;
  ``running``  not reported yet and the 72 hours have not passed;
  ``closed``   the step was skipped or found not applicable for another stated reason.
  Cases without an episode time are counted apart (``unknown_episode``): their clock cannot start.
  The rate is ``in_time`` of the cases whose clock has ended (all but ``running``).
- Takedown outcomes: per ladder rung, the recorded outcome (removed, partly removed, refused, no
  answer), ``waiting`` (sent, no outcome yet) and ``skipped`` (skipped or not applicable); ``verified``
  counts the removals proven by a re-capture.
- Time to verified removal: from the case's opening to the finish of the re-capture that verified the
  removal (the earliest such capture on any rung of the case); median and count.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import (Case, CaseClock, CaseOffender, CaseStep, Evidence, Offender, OffenderKind, OrgUnit,
                            Role, User)
from tracker.oversight import audit, med
from tracker.workflow.deadlines import COPENHAGEN, at_wall_time
from tracker.errors import DomainError
from tracker.cases.lifecycle import CATEGORIES
from tracker.accounts.permissions import require_role, visible_cases
from tracker.workflow.rules import Rules
from tracker.workflow.steps import NEEDS_REASON, POLICE_REPORT, case_deadlines, steps_and_clocks

NOT_ASSESSED = "not_assessed"  #: a case without a category
NO_PLATFORM = "none"  #: a case opened from an upload (no address, so no platform)
NO_OFFENDER = "none"
OFFENDER_KINDS = tuple(k.value for k in OffenderKind)
COUNTED_LINKS = ("suggested", "confirmed")
POLICE_BUCKETS = ("in_time", "late", "declined", "overdue", "running", "closed", "unknown_episode")
RUNG_BUCKETS = ("removed", "partly_removed", "refused", "no_answer", "waiting", "skipped")
MAX_PERIOD_DAYS = 10 * 366
READERS = (Role.hr, Role.leader, Role.amr)  #: who reads the statistics (each their own scope)


# -- the period -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Period:
    """Copenhagen calendar days from ``start`` to ``end``, both included."""

    start: date
    end: date

    def bounds(self) -> tuple[datetime, datetime]:
        """The first instant of ``start`` and of the day after ``end`` (aware, Copenhagen)."""
        return (at_wall_time(datetime.combine(self.start, datetime.min.time())),
                at_wall_time(datetime.combine(self.end + timedelta(days=1), datetime.min.time())))

    @property
    def label(self) -> str:
        """``2026-03-15_2026-09-14``: for file names and the audit event."""
        return f"{self.start.isoformat()}_{self.end.isoformat()}"

    def months(self) -> list[str]:
        """Every month the period touches, as ``YYYY-MM``."""
        out, (y, m) = [], (self.start.year, self.start.month)
        while (y, m) <= (self.end.year, self.end.month):
            out.append(f"{y:04d}-{m:02d}")
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return out


def make_period(start: date, end: date) -> Period:
    """A checked period; DomainError period_reversed / period_too_long / period_too_old."""
    if start > end:
        raise DomainError("period_reversed", "the period ends before it starts", "to")
    if (end - start).days > MAX_PERIOD_DAYS:
        raise DomainError("period_too_long", "the period is longer than ten years", "from")
    if start.year < 2000:
        raise DomainError("period_too_old", "the period starts before the year 2000", "from")
    return Period(start, end)


def default_period(med_dates: str, today: date) -> Period:
    """Since the previous MED evaluation up to today; the last six months if the dates are not usable."""
    try:
        start = med.previous_date(med_dates, today)
    except DomainError:
        start = today - timedelta(days=183)
    return Period(start, today)


# -- rows -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Count:
    key: str  #: a month (YYYY-MM), unit name, platform id, category or offender kind
    count: int


@dataclass(frozen=True)
class PoliceCompliance:
    """The 72-hour police-report clock of the period's cases (see the module's definitions)."""

    counts: dict[str, int]

    @property
    def known_episode(self) -> int:
        return sum(n for k, n in self.counts.items() if k != "unknown_episode")

    @property
    def ended(self) -> int:
        return self.known_episode - self.counts["running"]

    @property
    def rate_in_time(self) -> float | None:
        """Share (0..1) reported within 72 hours of the cases whose clock has ended; None if none has."""
        return self.counts["in_time"] / self.ended if self.ended else None


@dataclass(frozen=True)
class RungOutcomes:
    step_id: str
    counts: dict[str, int]  #: by RUNG_BUCKETS
    verified: int  #: removals proven by a re-capture


@dataclass(frozen=True)
class RemovalTimes:
    count: int
    median: timedelta | None


@dataclass(frozen=True)
class OverdueStep:
    step_id: str | None  #: the step whose deadline is overdue; None for a clock no step names
    rule_id: str
    refs: tuple[str, ...]  #: the cases, most overdue first

    @property
    def count(self) -> int:
        return len(self.refs)


@dataclass(frozen=True)
class Scope:
    """The cases a viewer may see that were opened in the period, with their steps and clock starts."""

    viewer: User
    period: Period
    cases: list[Case]
    rows: dict[int, dict[str, CaseStep]] = field(default_factory=dict)
    clocks: dict[int, dict[str, CaseClock]] = field(default_factory=dict)


@dataclass(frozen=True)
class MedStatistics:
    period: Period
    total: int
    per_month: list[Count]
    per_unit: list[Count]
    per_platform: list[Count]
    per_category: list[Count]
    per_offender_kind: list[Count]
    police: PoliceCompliance
    takedown: list[RungOutcomes]
    removal: RemovalTimes
    overdue: list[OverdueStep]


# -- loading ----------------------------------------------------------------------------------------
def load_scope(session: Session, viewer: User, period: Period) -> Scope:
    """The viewer's cases opened in the period, oldest first, with their step rows and clock starts."""
    lo, hi = period.bounds()
    cases = list(session.execute(visible_cases(viewer).where(Case.created_at >= lo, Case.created_at < hi)
                                 .order_by(Case.created_at, Case.id)).scalars())
    rows, clocks = steps_and_clocks(session, [c.id for c in cases])
    return Scope(viewer, period, cases, rows, clocks)


# -- counts -----------------------------------------------------------------------------------------
def per_month(scope: Scope) -> list[Count]:
    """Cases opened per month (Copenhagen), every month of the period, empty months included."""
    seen = Counter(c.created_at.astimezone(COPENHAGEN).strftime("%Y-%m") for c in scope.cases)
    return [Count(m, seen[m]) for m in scope.period.months()]


def per_unit(session: Session, scope: Scope) -> list[Count]:
    """Cases per unit by unit name: for HR every unit (empty ones too), for others their own unit."""
    seen = Counter(c.unit_id for c in scope.cases)
    q = select(OrgUnit).order_by(OrgUnit.name)
    if scope.viewer.role is not Role.hr:
        q = q.where(OrgUnit.id.in_({scope.viewer.unit_id, *seen} - {None}))
    return [Count(u.name, seen[u.id]) for u in session.execute(q).scalars()]


def per_platform(scope: Scope) -> list[Count]:
    """Cases per platform id (``none``: opened from an upload), most cases first."""
    seen = Counter(c.platform or NO_PLATFORM for c in scope.cases)
    return [Count(k, n) for k, n in sorted(seen.items(), key=lambda kv: (-kv[1], kv[0]))]


def per_category(scope: Scope) -> list[Count]:
    """Cases per category in the guideline's order, then ``not_assessed``."""
    seen = Counter(c.category or NOT_ASSESSED for c in scope.cases)
    return [Count(k, seen[k]) for k in (*CATEGORIES, NOT_ASSESSED)]


def per_offender_kind(session: Session, scope: Scope) -> list[Count]:
    """Cases per offender type of their suggested or confirmed offenders; ``none`` for cases with none."""
    ids = [c.id for c in scope.cases]
    kinds: dict[int, set[str]] = {i: set() for i in ids}
    if ids:
        for case_id, kind in session.execute(
                select(CaseOffender.case_id, Offender.kind).join(Offender, Offender.id == CaseOffender.offender_id)
                .where(CaseOffender.case_id.in_(ids), CaseOffender.state.in_(COUNTED_LINKS))):
            kinds[case_id].add(OffenderKind(kind).value)
    seen = Counter(k for found in kinds.values() for k in (found or {NO_OFFENDER}))
    return [Count(k, seen[k]) for k in (*OFFENDER_KINDS, NO_OFFENDER)]


# -- the 72-hour police report ----------------------------------------------------------------------
def police_report_compliance(scope: Scope, rules: Rules, now: datetime) -> PoliceCompliance:
    """Where each case's 72-hour police-report clock ended up (buckets: see the module docstring)."""
    rule_id = rules.step(POLICE_REPORT).deadline
    counts = dict.fromkeys(POLICE_BUCKETS, 0)
    for case in scope.cases:
        if case.episode_at is None:
            counts["unknown_episode"] += 1
            continue
        view = next(v for v in case_deadlines(case, rules, scope.rows[case.id], scope.clocks[case.id], now)
                    if v.rule.id == rule_id)
        if view.state == "met":
            bucket = "declined" if view.status.closed_note is not None else (
                "late" if view.status.met_late else "in_time")
        elif view.state == "closed":
            bucket = "closed"
        elif view.state == "overdue":
            bucket = "overdue"
        elif view.pending:
            bucket = "running"
        else:  # the clock cannot start although the episode is known (an edited rule file)
            bucket = "unknown_episode"
        counts[bucket] += 1
    return PoliceCompliance(counts)


# -- takedown ---------------------------------------------------------------------------------------
def takedown_outcomes(scope: Scope, rules: Rules) -> list[RungOutcomes]:
    """Per ladder rung, in the ladder's order: outcomes, waiting, skipped, and verified removals."""
    out = []
    for rung in rules.ladder:
        counts, verified = dict.fromkeys(RUNG_BUCKETS, 0), 0
        for case in scope.cases:
            row = scope.rows[case.id].get(rung.id)
            if row is None:
                continue
            outcome = "partly_removed" if row.outcome == "restricted" else row.outcome  # DSA: restricted, not removed
            if outcome in counts:
                counts[outcome] += 1
            elif row.state in NEEDS_REASON:
                counts["skipped"] += 1
            elif row.sent_at is not None:
                counts["waiting"] += 1
            verified += row.verified_by_evidence_id is not None
        out.append(RungOutcomes(rung.id, counts, verified))
    return out


def _median(values: list[timedelta]) -> timedelta | None:
    if not values:
        return None
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def time_to_verified_removal(session: Session, scope: Scope, rules: Rules) -> RemovalTimes:
    """Median time from opening to the re-capture that verified removal, over the cases that have one."""
    rung_ids = {r.id for r in rules.ladder}
    proof: dict[int, list[int]] = {}
    for case in scope.cases:
        ids = [row.verified_by_evidence_id for sid, row in scope.rows[case.id].items()
               if sid in rung_ids and row.verified_by_evidence_id is not None]
        if ids:
            proof[case.id] = ids
    all_ids = {i for ids in proof.values() for i in ids}
    finished = dict(session.execute(select(Evidence.id, Evidence.finished_at).where(Evidence.id.in_(all_ids)))
                    .all()) if all_ids else {}
    spans = []
    for case in scope.cases:
        times = [finished[i] for i in proof.get(case.id, ()) if finished.get(i) is not None]
        if times:
            spans.append(max(min(times) - case.created_at, timedelta(0)))
    return RemovalTimes(len(spans), _median(spans))


# -- open overdue steps -----------------------------------------------------------------------------
def overdue_steps(session: Session, viewer: User, rules: Rules, now: datetime) -> list[OverdueStep]:
    """The overdue clocks of every open case the viewer may see (any age), grouped by the step that
    names the clock (a clock no step names is grouped by its rule); most cases first."""
    cases = list(session.execute(visible_cases(viewer).where(Case.status == "open").order_by(Case.id)).scalars())
    rows, clocks = steps_and_clocks(session, [c.id for c in cases])
    step_of = {}
    for step in rules.steps:
        if step.deadline is not None:
            step_of.setdefault(step.deadline, step.id)
    for rule in rules.deadlines.values():  # a clock met by a rung's recorded time (DSA receipt, decision)
        if rule.met_when is not None:
            step_of.setdefault(rule.id, rule.met_when.step)
    found: dict[str, list[tuple[datetime, str]]] = {}
    for case in cases:
        for view in case_deadlines(case, rules, rows[case.id], clocks[case.id], now):
            if view.state == "overdue":
                found.setdefault(view.rule.id, []).append((view.status.due, case.ref))
    out = [OverdueStep(step_of.get(rule_id), rule_id, tuple(ref for _, ref in sorted(items)))
           for rule_id, items in found.items()]
    order = list(rules.deadlines)
    return sorted(out, key=lambda o: (-o.count, order.index(o.rule_id)))


# -- everything for the page and the CSV ------------------------------------------------------------
def med_statistics(session: Session, viewer: User, period: Period, rules: Rules, now: datetime) -> MedStatistics:
    """All of the statistics above for one viewer and period, computed at ``now`` (aware)."""
    scope = load_scope(session, viewer, period)
    return MedStatistics(
        period=period, total=len(scope.cases), per_month=per_month(scope), per_unit=per_unit(session, scope),
        per_platform=per_platform(scope), per_category=per_category(scope),
        per_offender_kind=per_offender_kind(session, scope), police=police_report_compliance(scope, rules, now),
        takedown=takedown_outcomes(scope, rules), removal=time_to_verified_removal(session, scope, rules),
        overdue=overdue_steps(session, viewer, rules, now))


def read_statistics(session: Session, viewer: User, period: Period, rules: Rules, now: datetime, *,
                    purpose: str = "view") -> MedStatistics:
    """The statistics for a reader (NotFound for anyone else), logged as ``stats.view`` or ``stats.export``.

    ``purpose`` "chart" is not logged again: a chart shows exactly the numbers of the page it belongs to.
    """
    require_role(viewer, *READERS)
    st = med_statistics(session, viewer, period, rules, now)
    if purpose in ("view", "export"):
        extra = {"format": "csv"} if purpose == "export" else {}
        audit.record(session, viewer, f"stats.{purpose}", "statistics", period.label, **extra,
                     scope="all" if viewer.role is Role.hr else viewer.unit_id)
    return st
