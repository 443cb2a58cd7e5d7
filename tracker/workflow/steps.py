"""The leader's workflow on a case: checklist step states, ladder rungs, clock starts, case facts and
step attachments (evidence of the case, or an uploaded reply).

Plain functions over a session; they flush, the caller commits. Every change is an audit event.
Who may change what (``can_change_step``, ``can_manage_case``): the unit's leader everything, the
unit's AMR the steps whose actor is ``amr``, HR everything; employees and admins read only. A case
the user may not see raises NotFound; a case they see but may not change raises
DomainError("not_allowed").

Long because the reading half (step rows, deadline views, the suggested rung) and the changing half check
one set of rules, permissions and texts; a split waits until the operation layer (issue 12, point 3),
which calls into both halves, has settled.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from capture.errors import CaptureRefused
from capture.upload import sniff
from storage.blobs import EvidenceStore
from storage.models import Case, CaseClock, CaseStep, Evidence, Role, StepAttachment, StepState, User
from storage.types import utcnow
from tracker.oversight import audit
from tracker.cases import casefacts
from tracker.workflow import recheck
from tracker.workflow.checklist import Step, answer_due, next_rung, preconditions_hold
from tracker.workflow.deadlines import CLOCK_STARTS, DeadlineRule, DeadlineStatus, State, evaluate, start_for
from tracker.errors import DomainError, NotFound
from tracker.accounts.permissions import can_view_case
from tracker.workflow.rules import Rules

CLOCK_SKEW = timedelta(minutes=10)
_KEEP = object()  #: record_rung: a time not given keeps its recorded value
MAX_TEXT = 5000
POLICE_REPORT = "police_report"  #: the checklist step whose decline closes the 72-hour clock
DECLINED = "declined"  #: the police-report step's outcome when the employee does not want a report
RUNG_OUTCOMES = ("removed", "restricted", "refused", "no_answer", "partly_removed")
#: outcomes after which the notifier may complain (DSA art. 20) or go to dispute settlement (art. 21)
FAILED_OUTCOMES = ("restricted", "refused", "no_answer", "partly_removed")
PLATFORM_NOTICE = "platform_notice"
#: clock starts read from a rung's record (a clock set by hand wins): name -> (step id, field)
RUNG_CLOCKS = {"notice_sent": (PLATFORM_NOTICE, "sent_at"), "platform_decision": (PLATFORM_NOTICE, "decided_at"),
               "dispute_filed": ("dispute_settlement", "sent_at")}
#: clock starts a person records; ``episode`` is the case's own episode time, ``case_opened`` is fixed
SETTABLE_CLOCKS = tuple(name for name in CLOCK_STARTS if name != "case_opened")
FACTS = ("author_known", "private_information_disclosed", "defamatory")
NEEDS_REASON = (StepState.skipped, StepState.not_applicable)
CLOSING_STATES = (StepState.done, StepState.skipped, StepState.not_applicable)
SECURE_EVIDENCE = "secure_evidence"  #: done by Værn when a capture secured the post
INFORM_LEADER = "inform_leader"  #: done by Værn when the leader was mailed or opened the case
#: capture statuses under which the post itself was secured. Not: a login or consent wall that stayed,
#: a page that moved away, an address refused by policy, not found, timed out or failed.
SECURES_POST = frozenset({"ok", "consent_accepted", "consent_dismissed", "truncated"})


# -- permissions ----------------------------------------------------------------------------------
def can_manage_case(user: User, case: Case) -> bool:
    """May change the case's facts, clocks and any step: the unit's leader, or HR."""
    if user.role is Role.hr:
        return True
    return user.role is Role.leader and user.unit_id is not None and user.unit_id == case.unit_id


def can_change_step(user: User, case: Case, step: Step) -> bool:
    """The leader of the unit and HR change any step; the unit's AMR the AMR steps."""
    if can_manage_case(user, case):
        return True
    return (user.role is Role.amr and step.actor == "amr" and user.unit_id is not None
            and user.unit_id == case.unit_id)


def _require(allowed: bool, user: User, case: Case) -> None:
    if not can_view_case(user, case):
        raise NotFound(case.ref)
    if not allowed:
        raise DomainError("not_allowed", "you may read this case but not change it")


# -- reading --------------------------------------------------------------------------------------
def step_rows(session: Session, case: Case) -> dict[str, CaseStep]:
    return {r.step_id: r for r in session.execute(select(CaseStep).where(CaseStep.case_id == case.id)).scalars()}


def clock_rows(session: Session, case: Case) -> dict[str, CaseClock]:
    return {c.name: c for c in session.execute(select(CaseClock).where(CaseClock.case_id == case.id)).scalars()}


def case_facts(case: Case, rows: Mapping[str, CaseStep]) -> dict[str, bool]:
    """The case's answers to the preconditions; an unanswered one is absent."""
    facts: dict[str, bool | None] = {
        "author_known": case.author_known,
        "private_information_disclosed": case.private_information_disclosed,
        "not_defamatory": None if case.defamatory is None else not case.defamatory,
    }
    police = rows.get(POLICE_REPORT)
    if police is not None and police.outcome == DECLINED:
        facts["police_report_declined"] = True
    elif police is not None and police.state is StepState.done:
        facts["police_report_declined"] = False
    return {k: v for k, v in facts.items() if v is not None}


@dataclass(frozen=True)
class Suggestion:
    step: Step
    why: str  #: start | failed | waited
    after: Step | None = None  #: the rung that failed or went unanswered


def suggest_next_rung(case: Case, rules: Rules, rows: Mapping[str, CaseStep], now: datetime) -> Suggestion | None:
    """The rung to try now: the first that applies; the next once the last one tried failed, was
    skipped, or waited its ``wait_days`` without a removed outcome. None while waiting or when removed."""
    facts = case_facts(case, rows)
    last: tuple[Step, CaseStep] | None = None
    for rung in rules.ladder:
        row = rows.get(rung.id)
        if row is not None and (row.sent_at is not None or row.state in CLOSING_STATES):
            last = (rung, row)
    if last is None:
        step = next_rung(rules, facts)
        return None if step is None else Suggestion(step, "start")
    rung, row = last
    if row.outcome == "removed":
        return None
    if row.state in NEEDS_REASON or row.outcome == "refused":
        why = "failed"
    elif row.sent_at is not None and now >= answer_due(rung, row.sent_at):
        why = "waited"
    else:
        return None
    step = next_rung(rules, facts, after=rung.id)
    return None if step is None else Suggestion(step, why, after=rung)


@dataclass(frozen=True)
class DeadlineView:
    rule: DeadlineRule
    status: DeadlineStatus
    closed_by: CaseStep | None = None  #: a skipped / not-applicable step that makes the clock moot

    @property
    def state(self) -> str:
        return "closed" if self.closed_by is not None else self.status.state.value

    @property
    def pending(self) -> bool:
        """Still counting towards a known due time."""
        return self.state in (State.open, State.at_risk, State.overdue)


def case_deadlines(case: Case, rules: Rules, rows: Mapping[str, CaseStep], clocks: Mapping[str, CaseClock],
                   now: datetime) -> list[DeadlineView]:
    """Every deadline rule against the case, in the rules' order.

    Met when a step naming it is done (at its done time); the police-report clock is closed by the
    leader's note when the employee declined; a clock whose step was skipped or found not applicable
    is shown as closed.
    """
    starts: dict[str, datetime | None] = {}
    for name, (step_id, field) in RUNG_CLOCKS.items():
        row = rows.get(step_id)
        starts[name] = getattr(row, field) if row is not None else None
    starts.update({name: c.at for name, c in clocks.items()})
    starts.update(episode=case.episode_at, case_opened=case.created_at)
    out = []
    for rule in rules.deadlines.values():
        met_at = note = closed_by = None
        if rule.met_when is not None and (row := rows.get(rule.met_when.step)) is not None:
            met_at = next((getattr(row, f) for f in rule.met_when.fields if getattr(row, f) is not None), None)
        if rule.moot_when is not None and (row := rows.get(rule.moot_when.step)) is not None:
            if row.outcome in rule.moot_when.outcomes:
                closed_by = row
        for step in rules.steps:
            row = rows.get(step.id)
            if step.deadline != rule.id or row is None:
                continue
            if row.state is StepState.done:
                met_at = row.done_at or row.updated_at
            elif step.id == POLICE_REPORT and row.outcome == DECLINED and rule.closable_by_note:
                note = row.note or row.reason
            elif row.state in NEEDS_REASON:
                closed_by = row
        if rule.met_when is not None and (row := rows.get(rule.met_when.step)) is not None and met_at is None:
            if row.state in NEEDS_REASON or row.outcome is not None:
                closed_by = row  # skipped, or an outcome came without the time being recorded
        status = evaluate(rule, start_for(rule, starts), now, met_at=met_at, closed_note=note)
        out.append(DeadlineView(rule, status, None if status.state is State.met else closed_by))
    return out


#: urgency groups for the case list: overdue, at risk, other counting clocks, nothing counting
_GROUP = {"overdue": 0, "at_risk": 1, "open": 2}


def next_deadline(views: Iterable[DeadlineView]) -> DeadlineView | None:
    """The most urgent counting clock: overdue before at risk before open, then the earliest due."""
    pending = [v for v in views if v.pending and v.status.due is not None]
    return min(pending, key=lambda v: (_GROUP[v.state], v.status.due), default=None)


def urgency_key(view: DeadlineView | None, case: Case) -> tuple:
    if view is None:
        return (3, 0.0, -case.created_at.timestamp())
    return (_GROUP[view.state], view.status.due.timestamp(), 0.0)


# -- changing -------------------------------------------------------------------------------------
def ensure_steps(session: Session, case: Case, rules: Rules) -> dict[str, CaseStep]:
    """Create the missing CaseStep rows (state todo) for every step of the rules; returns all by id."""
    rows = step_rows(session, case)
    for step in rules.steps:
        if step.id not in rows:
            rows[step.id] = CaseStep(case_id=case.id, step_id=step.id, state=StepState.todo, note="")
            session.add(rows[step.id])
    session.flush()
    return rows


def _text(value: str | None, field: str, required: bool = False) -> str | None:
    value = (value or "").strip()
    if len(value) > MAX_TEXT:
        raise DomainError("text_too_long", f"{field} is longer than {MAX_TEXT} characters", field)
    if required and not value:
        raise DomainError(f"{field}_missing", f"{field} is required", field)
    return value or None


def _past(value: datetime | None, field: str, now: datetime) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise DomainError("naive_datetime", f"{field} needs a time zone", field)
    if value > now + CLOCK_SKEW:
        raise DomainError(f"{field}_future", f"{field} lies in the future", field)
    if value.year < 2000:
        raise DomainError(f"{field}_too_old", f"{field} is before the year 2000", field)
    return value


def set_state(session: Session, case: Case, step_id: str, state: StepState | str, actor: User,
              reason: str | None = None, note: str | None = None, done_at: datetime | None = None, *,
              rules: Rules, now: datetime | None = None) -> CaseStep:
    """Set a step's state. Skipped and not applicable need a reason; done records who and when
    (``done_at`` defaults to now, may be back-dated, never in the future). A note of None keeps the note."""
    now = now or utcnow()
    step = rules.step(step_id)
    _require(can_change_step(actor, case, step), actor, case)
    try:
        state = StepState(state)
    except ValueError:
        raise DomainError("bad_state", f"unknown step state {state!r}", "state") from None
    reason = _text(reason, "reason", required=state in NEEDS_REASON)
    done_at = _past(done_at, "done_at", now)
    row = ensure_steps(session, case, rules)[step_id]
    before = row.state.value
    row.state = state
    row.reason = reason if state in NEEDS_REASON else None
    row.done_at = (done_at or now) if state is StepState.done else None
    if note is not None:
        row.note = _text(note, "note") or ""
    if step.kind != "ladder" and row.outcome is not None:
        row.outcome = None  # a new decision replaces a recorded decline
    row.updated_by_id, row.updated_at = actor.id, now
    session.flush()
    audit.record(session, actor, "step.state", "case_step", step_id, case.id, before=before, state=state.value,
                 reason=row.reason, done_at=row.done_at.isoformat() if row.done_at else None,
                 note_changed=True if note is not None else None)
    return row


def done_by_vaern(session: Session, case: Case, step_id: str, because: str, *, rules: Rules,
                  now: datetime | None = None, **details) -> CaseStep | None:
    """Mark a checklist step Værn itself carried out as done, audited with the system as actor and
    ``because`` (capture, notification, leader_opened) as the reason. A step a person already decided
    (done, skipped, not applicable) is left as it is; returns the row if it changed, else None."""
    try:
        rules.step(step_id)
    except DomainError:  # a municipality removed the step from its checklist
        return None
    now = now or utcnow()
    row = session.execute(select(CaseStep).where(CaseStep.case_id == case.id, CaseStep.step_id == step_id)).scalar()
    if row is None:  # only this step's row: the others are made when a person first works on the case
        row = CaseStep(case_id=case.id, step_id=step_id, state=StepState.todo, note="")
        session.add(row)
    elif row.state in CLOSING_STATES:
        return None
    before = row.state.value
    row.state, row.done_at, row.reason, row.updated_by_id, row.updated_at = StepState.done, now, None, None, now
    session.flush()
    audit.record(session, None, "step.state", "case_step", step_id, case.id, before=before,
                 state=StepState.done.value, done_at=now.isoformat(), by="system", because=because, **details)
    return row


def decline_police_report(session: Session, case: Case, actor: User, note: str, *, rules: Rules,
                          now: datetime | None = None) -> CaseStep:
    """The employee does not want a police report: the step is skipped with the leader's note as its
    reason, and the note closes the 72-hour clock (the guideline's note, registered in InsuBiz)."""
    now = now or utcnow()
    step = rules.step(POLICE_REPORT)
    _require(can_manage_case(actor, case), actor, case)
    note = _text(note, "note", required=True)
    row = ensure_steps(session, case, rules)[step.id]
    row.state, row.outcome, row.reason, row.note, row.done_at = StepState.skipped, DECLINED, note, note, None
    row.updated_by_id, row.updated_at = actor.id, now
    session.flush()
    audit.record(session, actor, "step.police_report_declined", "case_step", step.id, case.id, note=note)
    return row


def record_rung(session: Session, case: Case, step_id: str, actor: User, sent_at: datetime | None,
                channel: str | None, platform_ref: str | None, outcome: str | None,
                statement_of_reasons: str | None, *, rules: Rules, now: datetime | None = None,
                receipt_at=_KEEP, decided_at=_KEEP) -> CaseStep:
    """Record a ladder rung: when and how the request went, the other side's reference, and the outcome
    (removed, restricted, refused, no_answer, partly_removed; None while waiting). Sent: in progress; an
    outcome: done. ``receipt_at`` (the other side confirmed receipt) and ``decided_at`` (it told its decision:
    the start of the DSA art. 20 clock) are kept when not given; neither may lie before ``sent_at``."""
    now = now or utcnow()
    step = rules.step(step_id)
    if step.kind != "ladder":
        raise DomainError("not_a_rung", f"step {step_id!r} is not a ladder rung", "step")
    _require(can_change_step(actor, case, step), actor, case)
    sent_at = _past(sent_at, "sent_at", now)
    if outcome not in (None, "", *RUNG_OUTCOMES):
        raise DomainError("bad_outcome", f"unknown outcome {outcome!r}", "outcome")
    outcome = outcome or None
    if sent_at is None and outcome is not None:
        raise DomainError("sent_at_missing", "an outcome needs the time the request was sent", "sent_at")
    channel = _text(channel, "channel")
    platform_ref = _text(platform_ref, "platform_ref")
    if channel and len(channel) > 200 or platform_ref and len(platform_ref) > 200:
        raise DomainError("text_too_long", "at most 200 characters", "channel" if channel and len(channel) > 200
                          else "platform_ref")
    row = ensure_steps(session, case, rules)[step_id]
    receipt_at = _past(row.receipt_at if receipt_at is _KEEP else receipt_at, "receipt_at", now)
    decided_at = _past(row.decided_at if decided_at is _KEEP else decided_at, "decided_at", now)
    for name, value in (("receipt_at", receipt_at), ("decided_at", decided_at)):
        if value is not None and (sent_at is None or value < sent_at - CLOCK_SKEW):
            raise DomainError(f"{name}_before_sent", f"{name} needs a sent time before it", name)
    if decided_at is not None and outcome in (None, "no_answer"):
        raise DomainError("outcome_missing", "a decision date needs the decision (removed, restricted, refused, "
                          "partly removed)", "outcome")
    row.receipt_at, row.decided_at = receipt_at, decided_at
    row.sent_at, row.channel, row.platform_ref = sent_at, channel, platform_ref
    row.outcome, row.statement_of_reasons = outcome, _text(statement_of_reasons, "statement_of_reasons")
    if outcome is not None:
        row.state, row.done_at, row.reason = StepState.done, row.done_at or now, None
    elif sent_at is not None:
        row.state, row.done_at, row.reason = StepState.in_progress, None, None
    row.updated_by_id, row.updated_at = actor.id, now
    session.flush()
    audit.record(session, actor, "step.rung", "case_step", step_id, case.id,
                 sent_at=sent_at.isoformat() if sent_at else None, channel=channel, platform_ref=platform_ref,
                 outcome=outcome, receipt_at=receipt_at.isoformat() if receipt_at else None,
                 decided_at=decided_at.isoformat() if decided_at else None)
    return row


def set_clock(session: Session, case: Case, name: str, at: datetime | None, actor: User, note: str | None = None,
              *, now: datetime | None = None) -> None:
    """Record when a clock starts (absence start, knowledge of the author, injunction granted …).

    ``episode`` sets the case's episode time. ``at`` None forgets the start (shown as unknown again).
    """
    now = now or utcnow()
    _require(can_manage_case(actor, case), actor, case)
    if name not in SETTABLE_CLOCKS:
        raise DomainError("unknown_clock", f"no clock start {name!r}", "name")
    at = _past(at, "at", now)
    note = _text(note, "note") or ""
    facts = casefacts.snapshot(case)
    if name == "episode":
        before = case.episode_at
        case.episode_at = at
    else:
        clock = clock_rows(session, case).get(name)
        before = clock.at if clock else None
        if at is None:
            if clock is not None:
                session.delete(clock)
        elif clock is None:
            session.add(CaseClock(case_id=case.id, name=name, at=at, note=note, set_by_id=actor.id, set_at=now))
        else:
            clock.at, clock.note, clock.set_by_id, clock.set_at = at, note, actor.id, now
    session.flush()
    audit.record(session, actor, "clock.set", "case_clock", name, case.id,
                 before=before.isoformat() if before else None, at=at.isoformat() if at else None,
                 note=note or None, facts_sha256=casefacts.changed(facts, case))


_UNSET = object()


def set_facts(session: Session, case: Case, actor: User, *, author_known=_UNSET,
              private_information_disclosed=_UNSET, defamatory=_UNSET) -> dict[str, bool | None]:
    """Answer the checklist's questions (True, False, or None for not assessed); returns what changed."""
    _require(can_manage_case(actor, case), actor, case)
    given = {"author_known": author_known, "private_information_disclosed": private_information_disclosed,
             "defamatory": defamatory}
    changed = {}
    facts = casefacts.snapshot(case)
    for name, value in given.items():
        if value is _UNSET:
            continue
        if value not in (True, False, None):
            raise DomainError("bad_fact", f"{name} must be yes, no or not assessed", name)
        if getattr(case, name) != value:
            setattr(case, name, value)
            changed[name] = value
    session.flush()
    if changed:
        audit.record(session, actor, "case.facts", "case", case.ref, case.id,
                     changed={k: v for k, v in changed.items()}, facts_sha256=casefacts.changed(facts, case))
    return changed


def applies(step: Step, case: Case, rows: Mapping[str, CaseStep]) -> bool | None:
    """Whether the step's preconditions hold for the case (None: a question is still open)."""
    return preconditions_hold(step, case_facts(case, rows))


def steps_and_clocks(session: Session, ids: list[int]
                     ) -> tuple[dict[int, dict[str, CaseStep]], dict[int, dict[str, CaseClock]]]:
    """Every step row and clock of the cases ``ids``, by case id, in two queries."""
    rows: dict[int, dict[str, CaseStep]] = {i: {} for i in ids}
    clocks: dict[int, dict[str, CaseClock]] = {i: {} for i in ids}
    if ids:
        for r in session.execute(select(CaseStep).where(CaseStep.case_id.in_(ids))).scalars():
            rows[r.case_id][r.step_id] = r
        for c in session.execute(select(CaseClock).where(CaseClock.case_id.in_(ids))).scalars():
            clocks[c.case_id][c.name] = c
    return rows, clocks


def urgency_order(session: Session, cases: list[Case], rules: Rules, now: datetime
                  ) -> tuple[list[Case], dict[int, DeadlineView | None]]:
    """The cases most urgent first (overdue, at risk, other counting clocks, then newest), and each
    case's next deadline by case id. Reads every case's steps and clocks in two queries."""
    rows, clocks = steps_and_clocks(session, [c.id for c in cases])
    nearest = {c.id: next_deadline(case_deadlines(c, rules, rows[c.id], clocks[c.id], now))
               if c.status == "open" else None for c in cases}
    ordered = sorted(cases, key=lambda c: urgency_key(nearest[c.id], c))
    return ordered, nearest


# -- attachments and verified removal ---------------------------------------------------------------
def _step_row(session: Session, case: Case, step_id: str, actor: User, rules: Rules) -> CaseStep:
    step = rules.step(step_id)
    _require(can_change_step(actor, case, step), actor, case)
    return ensure_steps(session, case, rules)[step_id]


def attach_evidence(session: Session, case: Case, step_id: str, evidence_id: int, actor: User, *,
                    rules: Rules) -> StepAttachment:
    """Attach an evidence item of the case to a step (once; attaching it again returns the first one).

    Raises DomainError("unknown_evidence") if the evidence is not the case's.
    """
    row = _step_row(session, case, step_id, actor, rules)
    ev = session.get(Evidence, evidence_id) if isinstance(evidence_id, int) else None
    if ev is None or ev.case_id != case.id:
        raise DomainError("unknown_evidence", "no such evidence on this case", "evidence_id")
    existing = session.execute(select(StepAttachment).where(
        StepAttachment.case_step_id == row.id, StepAttachment.evidence_id == ev.id)).scalar()
    if existing is not None:
        return existing
    att = StepAttachment(case_step_id=row.id, evidence_id=ev.id, created_by_id=actor.id)
    session.add(att)
    session.flush()
    audit.record(session, actor, "step.attach", "case_step", step_id, case.id, attachment_id=att.id,
                 evidence_id=ev.id)
    return att


def attach_upload(session: Session, blobs: EvidenceStore, case: Case, step_id: str, actor: User, data: bytes,
                  filename: str, *, max_bytes: int, rules: Rules) -> StepAttachment:
    """Attach an uploaded file (e.g. the platform's reply) to a step; its bytes are in the blob store
    before the row points at them. The type is sniffed from the bytes (images, PDF, .eml).

    Raises DomainError empty, too_large or unsupported_type.
    """
    row = _step_row(session, case, step_id, actor, rules)
    if not data:
        raise DomainError("empty", "the file is empty", "file")
    if len(data) > max_bytes:
        raise DomainError("too_large", f"the file is {len(data)} bytes; the limit is {max_bytes}", "file")
    try:
        kind = sniff(data)
    except CaptureRefused as exc:
        raise DomainError("unsupported_type", str(exc), "file") from None
    sha = blobs.put(data)
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()[:255] or f"bilag.{kind.ext}"
    att = StepAttachment(case_step_id=row.id, sha256=sha, filename=name, media_type=kind.media_type,
                         size=len(data), created_by_id=actor.id)
    session.add(att)
    session.flush()
    audit.record(session, actor, "step.attach", "case_step", step_id, case.id, attachment_id=att.id,
                 sha256=sha, filename=name, media_type=kind.media_type, size=len(data))
    return att


def removal_rung(rules: Rules, rows: Mapping[str, CaseStep]) -> str | None:
    """The rung a verified removal belongs on: one already marked with it, else the last rung tried
    (sent, done, skipped or not applicable), else the ladder's first rung."""
    tried = None
    for rung in rules.ladder:
        row = rows.get(rung.id)
        if row is not None and row.verified_by_evidence_id is not None:
            return rung.id
        if row is not None and (row.sent_at is not None or row.state in CLOSING_STATES):
            tried = rung.id
    return tried or (rules.ladder[0].id if rules.ladder else None)


def record_verified_removal(session: Session, case: Case, step_id: str, evidence_id: int, actor: User, *,
                            rules: Rules, now: datetime | None = None) -> CaseStep:
    """Mark a ladder rung removed, verified by the re-capture ``evidence_id`` (recheck.mark_removed_verified);
    the rung is then done. Raises DomainError not_a_rung, not_allowed or not_verified."""
    now = now or utcnow()
    step = rules.step(step_id)
    if step.kind != "ladder":
        raise DomainError("not_a_rung", f"step {step_id!r} is not a ladder rung", "step")
    _require(can_change_step(actor, case, step), actor, case)
    row = ensure_steps(session, case, rules)[step_id]
    recheck.mark_removed_verified(session, row, evidence_id, actor)
    if row.state is not StepState.done:
        before = row.state.value
        row.state, row.done_at, row.reason = StepState.done, now, None
        session.flush()
        audit.record(session, actor, "step.state", "case_step", step_id, case.id, before=before,
                     state=StepState.done.value, done_at=now.isoformat())
    return row
