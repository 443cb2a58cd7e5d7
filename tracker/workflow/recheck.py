"""Re-checks: re-capture a URL whose takedown is open and compare it with the original capture.

Removal is verified, not assumed (DOMAIN.md, issue 10): ``removed`` only on positive evidence — HTTP
404/410 (or 451, withheld for legal reasons), the platform's removal text or its deletion redirect
(data: tracker/workflow/rules/removal_signs.toml) — and a removal counts only when two informative re-checks
in a row agree. A missing post element is not evidence: if the post's text from the first capture
is still on the page the post is ``still_online`` (the markup changed); if neither the element, nor
the text, nor a removal sign is there, the verdict is ``uncertain`` and the leader decides from the
two screenshots. A capture that could not see the page (login or consent wall, navigated away,
blocked, timed out, failed; 5xx, 401/403/429, DNS or connection errors) is ``unreachable``.

Verdicts: ``still_online``, ``changed`` (the post is there but its text or picture differs),
``removed_pending`` (the first removal), ``removed`` (a second one agreeing), ``unreachable``,
``uncertain``. Each carries a ``reason_code`` (``REASONS``) and an English ``reason``.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session, aliased

from storage.models import Case, CaseStep, Evidence, EvidenceState, Recheck, Role, User
from storage.types import utcnow
from tracker import uow
from tracker.oversight import audit
from tracker import after_commit
from tracker.errors import DomainError, NotFound
from tracker.accounts.permissions import can_view_case
from tracker.workflow.recheck_compare import (  # noqa: F401 - the comparison rules are part of this module's API
    BASELINE_STATUSES, CHANGED, HASH_THRESHOLD, NO_INFORMATION, REASONS, REMOVED, REMOVED_HTTP, REMOVED_PENDING,
    SEEN_STATUSES, STILL_ONLINE, UNCERTAIN, UNREACHABLE, UNSEEN_STATUSES, Finding, compare, has_post, hash_distance,
    reason_text)
from tracker.workflow.platforms import platform_for_url
from tracker.workflow.removal_signs import RemovalSigns

if TYPE_CHECKING:
    from tracker.adapters.runtime import Runtime

log = logging.getLogger(__name__)

#: re-checks started per periodic run at most (the oldest-checked first)
MAX_PER_RUN = 50
_FINISHED = (EvidenceState.done, EvidenceState.failed, EvidenceState.refused)
#: who may ask for a re-check of a case they can see (pages and API alike): everyone but the admin,
#: who cannot see cases anyway; HR manages cases (tracker.workflow.steps.can_manage_case)
MAY_REQUEST = (Role.employee, Role.amr, Role.leader, Role.hr)


# -- which URLs are due -----------------------------------------------------------------------------
def _baselines_query():
    """One baseline per (case, URL): the first finished original capture that showed the post."""
    rechecked = select(Recheck.evidence_id).where(Recheck.evidence_id.is_not(None))
    return (select(func.min(Evidence.id).label("id"))
            .where(Evidence.kind == "url", Evidence.state == EvidenceState.done,
                   Evidence.capture_status.in_(BASELINE_STATUSES), Evidence.id.not_in(rechecked))
            .group_by(Evidence.case_id, Evidence.source_url))


def takedown_verified(case_id):
    """SQL condition: a ladder step of the case is marked removed and verified by a capture."""
    return exists().where(CaseStep.case_id == case_id, CaseStep.outcome == "removed",
                          CaseStep.verified_by_evidence_id.is_not(None))


def due_rechecks(session: Session, now: datetime, interval: timedelta, limit: int = MAX_PER_RUN) -> list[Evidence]:
    """Baseline captures of open cases whose takedown is not verified and not re-checked within ``interval``.

    A baseline whose re-check is still queued or running is not due again.
    """
    baselines = _baselines_query().subquery()
    last = (select(Recheck.baseline_evidence_id.label("bid"), func.max(Recheck.created_at).label("at"))
            .group_by(Recheck.baseline_evidence_id).subquery())
    running_ev = aliased(Evidence)
    in_flight = exists().where(Recheck.baseline_evidence_id == Evidence.id, Recheck.verdict.is_(None),
                               Recheck.evidence_id == running_ev.id,
                               running_ev.state.in_((EvidenceState.queued, EvidenceState.running)))
    q = (select(Evidence)
         .join(baselines, baselines.c.id == Evidence.id)
         .join(Case, Case.id == Evidence.case_id)
         .outerjoin(last, last.c.bid == Evidence.id)
         .where(Case.status == "open", ~takedown_verified(Case.id), ~in_flight,
                (last.c.at.is_(None)) | (last.c.at <= now - interval))
         .order_by(last.c.at.is_not(None), last.c.at, Evidence.id)
         .limit(limit))
    return list(session.execute(q).scalars())


def baselines_of(session: Session, case: Case) -> list[Evidence]:
    q = select(Evidence).where(Evidence.id.in_(_baselines_query()), Evidence.case_id == case.id).order_by(Evidence.id)
    return list(session.execute(q).scalars())


# -- starting a re-check ----------------------------------------------------------------------------
def _add_recheck(session: Session, case: Case, baseline: Evidence, actor: User | None) -> Recheck:
    """The re-capture (attributed to ``actor``, or to the case's reporter when the system starts it) and its row."""
    if baseline.case_id != case.id or baseline.kind != "url" or not baseline.source_url:
        raise DomainError("not_a_baseline", "the evidence is not a captured URL of this case")
    ev = Evidence(case_id=case.id, kind="url", source_url=baseline.source_url, state=EvidenceState.queued,
                  created_by_id=actor.id if actor is not None else case.reported_by_id)
    session.add(ev)
    session.flush()
    row = Recheck(case_id=case.id, baseline_evidence_id=baseline.id, evidence_id=ev.id, details={})
    session.add(row)
    session.flush()
    audit.record(session, actor, "recheck.start", "recheck", row.id, case.id,
                 baseline_evidence_id=baseline.id, evidence_id=ev.id, on_demand=actor is not None)
    return row


def start_recheck(rt: "Runtime", case: Case | int, baseline: Evidence | int) -> int:
    """Start a system re-check of ``baseline``'s URL (its own transaction); returns the Recheck id."""
    case_id = case if isinstance(case, int) else case.id
    baseline_id = baseline if isinstance(baseline, int) else baseline.id
    with uow.unit_of_work(rt) as session:
        row = _add_recheck(session, session.get(Case, case_id), session.get(Evidence, baseline_id), None)
        recheck_id, ev_id = row.id, row.evidence_id
    rt.enqueue_capture(ev_id)  # the row is committed; the sweep re-enqueues it if this fails
    return recheck_id


def request_recheck(session: Session, case: Case, actor: User) -> list[Recheck]:
    """Re-check every captured URL of the case now (flush only; captures are enqueued after commit).

    A URL whose re-check is already queued or running is not captured twice: its pending row is
    returned. Raises NotFound if ``actor`` may not see the case, DomainError if they may not act on
    it or it has no captured URL.
    """
    if not can_view_case(actor, case):
        raise NotFound(case.ref)
    if actor.role not in MAY_REQUEST:
        raise DomainError("not_allowed", "only people who work with the case can ask for a re-check")
    baselines = baselines_of(session, case)
    if not baselines:
        raise DomainError("no_captured_url", "the case has no captured URL to check again")
    rows = []
    for baseline in baselines:
        pending = session.execute(
            select(Recheck).join(Evidence, Evidence.id == Recheck.evidence_id)
            .where(Recheck.baseline_evidence_id == baseline.id, Recheck.verdict.is_(None),
                   Evidence.state.in_((EvidenceState.queued, EvidenceState.running)))).scalar()
        if pending is None:
            pending = _add_recheck(session, case, baseline, actor)
            after_commit.capture(session, pending.evidence_id)
        rows.append(pending)
    return rows


# -- deciding ---------------------------------------------------------------------------------------
def load_manifest(rt: "Runtime", ev: Evidence) -> dict[str, Any] | None:
    if ev.state is not EvidenceState.done or not ev.manifest_sha256:
        return None
    return json.loads(rt.blobs.read(ev.manifest_sha256))


def load_page_text(rt: "Runtime", ev: Evidence) -> str | None:
    """The visible text of a captured page (its ``text`` artifact); None if the capture kept none."""
    art = next((a for a in ev.artifacts if a.role == "text"), None)
    return rt.blobs.read(art.sha256).decode("utf-8", "replace") if art is not None else None


def removal_signs(rt: "Runtime") -> RemovalSigns:
    """The removal signs in force (the municipality's copy over the shipped file, as this process last loaded it)."""
    return rt.removal_signs


def _previous_informative(session: Session, row: Recheck) -> Recheck | None:
    """The last decided re-check of the same baseline before ``row`` that said something about the post."""
    return session.execute(
        select(Recheck).where(Recheck.baseline_evidence_id == row.baseline_evidence_id, Recheck.id < row.id,
                              Recheck.verdict.is_not(None), Recheck.verdict.not_in(NO_INFORMATION))
        .order_by(Recheck.id.desc()).limit(1)).scalar()


def _count_removal(session: Session, row: Recheck, details: dict[str, Any]) -> str:
    """``removed`` if the previous informative re-check of the URL was a removal too, else ``removed_pending``."""
    prev = _previous_informative(session, row)
    if prev is not None and prev.verdict in (REMOVED, REMOVED_PENDING):
        details["agrees_with_recheck"] = prev.id
        return REMOVED
    return REMOVED_PENDING


def decide(rt: "Runtime", recheck: Recheck | int) -> str | None:
    """Compare a finished re-capture with its baseline and record the verdict (once); None if not finished.

    A removal is ``removed_pending`` unless the previous informative re-check of the same URL
    (``unreachable`` and ``uncertain`` ones are skipped) was a removal too; then it is ``removed``.
    When the case thereby becomes verified removed, the unit's leaders are told (after commit).
    """
    recheck_id = recheck if isinstance(recheck, int) else recheck.id
    with uow.unit_of_work(rt) as session:
        row = session.get(Recheck, recheck_id)
        if row is None or row.verdict is not None:
            return row.verdict if row is not None else None
        ev = session.get(Evidence, row.evidence_id) if row.evidence_id else None
        if ev is None or ev.state not in _FINISHED:
            return None
        baseline = session.get(Evidence, row.baseline_evidence_id)
        was_verified = verified_removal(session, session.get(Case, row.case_id))
        done = ev.state is EvidenceState.done
        found = compare(load_manifest(rt, baseline), load_manifest(rt, ev), state=ev.state.value,
                        status=ev.capture_status, error=ev.error,
                        page_text=load_page_text(rt, ev) if done else None,
                        baseline_text=load_page_text(rt, baseline), signs=removal_signs(rt),
                        platform=platform_for_url(baseline.source_url or "", rt.platforms).id)
        verdict, details = found.verdict, {"reason": found.reason, **found.details}
        if verdict == REMOVED:
            verdict = _count_removal(session, row, details)
        row.verdict, row.details, row.decided_at = verdict, details, utcnow()
        row.reason_code, row.reason = found.code, found.reason
        session.flush()
        audit.record(session, None, "recheck.decided", "recheck", row.id, row.case_id, verdict=verdict,
                     evidence_id=ev.id, reason=found.reason, reason_code=found.code)
        case_id = row.case_id
        now_verified = verified_removal(session, session.get(Case, case_id))
    if now_verified is not None and now_verified != was_verified:
        tell_leaders_removed(rt, case_id)
    return verdict


def tell_leaders_removed(rt: "Runtime", case_id: int) -> None:
    """Tell the unit's leaders the removal is verified (after commit; the periodic sweep retries a failure)."""
    try:
        rt.tell_removal_verified(case_id)
    except Exception:
        log.exception("could not send the removal notification for case %s", case_id)


#: what a leader may decide about an uncertain re-check
LEADER_DECISIONS = {"removed": "leader_removed", "still_online": "leader_online"}


def undecided_uncertain(session: Session, case: Case) -> list[Recheck]:
    """Uncertain re-checks of the case a leader may still decide: no later re-check of the URL answered."""
    rows = session.execute(select(Recheck).where(Recheck.case_id == case.id, Recheck.verdict == UNCERTAIN)
                           .order_by(Recheck.id)).scalars()
    return [r for r in rows if not _answered_later(session, r)]


def _answered_later(session: Session, row: Recheck) -> bool:
    return session.execute(select(Recheck.id).where(
        Recheck.baseline_evidence_id == row.baseline_evidence_id, Recheck.id > row.id,
        Recheck.verdict.is_not(None), Recheck.verdict.not_in(NO_INFORMATION)).limit(1)).scalar() is not None


def decide_uncertain(session: Session, case: Case, recheck_id: int, decision: str, actor: User,
                     rt: "Runtime | None" = None) -> Recheck:
    """The case's leader decides an ``uncertain`` re-check from its screenshots (flush only; audited).

    With ``rt`` (page, API, CLI), the unit's leaders are told once the transaction commits if this
    decision newly verifies the removal.

    ``decision`` is ``removed`` (counts as a removal verdict, with the decider recorded; two agreeing
    removals still verify) or ``still_online``. Raises NotFound if ``actor`` may not see the case or
    the re-check is not the case's; DomainError ``not_allowed`` unless a leader, ``not_uncertain``
    if it is not (or no longer) open to a decision, ``bad_decision`` for another value.
    """
    if not can_view_case(actor, case):
        raise NotFound(case.ref)
    row = session.get(Recheck, recheck_id)
    if row is None or row.case_id != case.id:
        raise NotFound(str(recheck_id))
    if actor.role is not Role.leader:
        raise DomainError("not_allowed", "only the case's leader decides an uncertain re-check")
    if decision not in LEADER_DECISIONS:
        raise DomainError("bad_decision", "decide 'removed' or 'still_online'", "decision")
    if row.verdict != UNCERTAIN or _answered_later(session, row):
        raise DomainError("not_uncertain", "this re-check is not open to a decision (decided, or a later one answered)")
    was = verified_removal(session, case) if rt is not None else None
    code = LEADER_DECISIONS[decision]
    details = {**(row.details or {}), "finding": {"verdict": row.verdict, "reason_code": row.reason_code,
                                                  "reason": row.reason}}
    verdict = _count_removal(session, row, details) if decision == "removed" else STILL_ONLINE
    details["reason"] = reason_text(code, details)
    before = row.verdict
    row.verdict, row.details, row.reason_code, row.reason = verdict, details, code, details["reason"]
    row.decided_by_id, row.decided_at = actor.id, utcnow()
    session.flush()
    audit.record(session, actor, "recheck.leader_decided", "recheck", row.id, case.id, before=before,
                 verdict=verdict, decision=decision, evidence_id=row.evidence_id,
                 baseline_evidence_id=row.baseline_evidence_id)
    if rt is not None:
        now = verified_removal(session, case)
        if now is not None and now != was:
            case_id = case.id
            uow.after_commit(session, lambda: tell_leaders_removed(rt, case_id))
    return row


def after_capture(rt: "Runtime", evidence_id: int) -> str | None:
    """Job hook: if ``evidence_id`` is a re-capture, decide its re-check; None otherwise."""
    with rt.Session() as session:
        recheck_id = session.execute(select(Recheck.id).where(Recheck.evidence_id == evidence_id)).scalar()
    if recheck_id is None:
        return None
    try:
        return decide(rt, recheck_id)
    except Exception:  # the capture is stored; the periodic run decides it again (decide_finished)
        log.exception("could not decide re-check %s", recheck_id)
        return None


def decide_finished(rt: "Runtime") -> int:
    """Decide re-checks whose capture finished but whose verdict was never recorded (worker died)."""
    with rt.Session() as session:
        ids = list(session.execute(
            select(Recheck.id).join(Evidence, Evidence.id == Recheck.evidence_id)
            .where(Recheck.verdict.is_(None), Evidence.state.in_(_FINISHED))).scalars())
    for recheck_id in ids:
        try:
            decide(rt, recheck_id)
        except Exception:
            log.exception("could not decide re-check %s", recheck_id)
    return len(ids)


def run_due(rt: "Runtime", now: datetime | None = None) -> int:
    """The periodic task: decide finished re-checks, then start the due ones. Returns how many started."""
    decide_finished(rt)
    now = now or utcnow()
    interval = timedelta(hours=rt.settings.recheck_interval_hours)
    with rt.Session() as session:
        due = [(ev.case_id, ev.id) for ev in due_rechecks(session, now, interval)]
    for case_id, baseline_id in due:
        try:
            start_recheck(rt, case_id, baseline_id)
        except Exception:  # one broken row must not stop the others; it is due again next run
            log.exception("could not start a re-check of evidence %s", baseline_id)
    if due:
        log.info("started %d re-check(s)", len(due))
    return len(due)


# -- what the ladder reads --------------------------------------------------------------------------
def removal_status(session: Session, case: Case) -> dict[int, int | None]:
    """Per baseline id: the capture that verified its removal (first of the current run), or None."""
    result: dict[int, int | None] = {}
    for baseline in baselines_of(session, case):
        rows = session.execute(
            select(Recheck).where(Recheck.baseline_evidence_id == baseline.id, Recheck.verdict.is_not(None),
                                  Recheck.verdict.not_in(NO_INFORMATION)).order_by(Recheck.id)).scalars()
        verified: int | None = None
        for row in rows:
            if row.verdict == REMOVED:
                verified = verified or row.evidence_id
            else:
                verified = None
        result[baseline.id] = verified
    return result


def verified_removal(session: Session, case: Case) -> int | None:
    """The evidence id of the capture that verified the removal of every captured URL of the case; None if not.

    With several URLs it is the latest of their verifying captures.
    """
    status = removal_status(session, case)
    if not status or any(v is None for v in status.values()):
        return None
    return max(v for v in status.values() if v is not None)


def mark_removed_verified(session: Session, step: CaseStep, evidence_id: int, actor: User) -> CaseStep:
    """Record on a ladder rung that the content is removed, verified by the re-capture ``evidence_id``.

    Raises DomainError unless ``evidence_id`` is a re-capture of the step's case judged ``removed``.
    """
    case = session.get(Case, step.case_id)
    if case is None or not can_view_case(actor, case):
        raise NotFound(str(step.case_id))
    if actor.role is not Role.leader:
        raise DomainError("not_allowed", "only the case's leader records the outcome of a takedown")
    ok = session.execute(select(Recheck.id).where(and_(
        Recheck.case_id == case.id, Recheck.evidence_id == evidence_id, Recheck.verdict == REMOVED))).scalar()
    if ok is None:
        raise DomainError("not_verified", "that capture does not verify a removal on this case", "evidence_id")
    now = utcnow()
    step.outcome, step.verified_by_evidence_id = "removed", evidence_id
    step.updated_by_id, step.updated_at = actor.id, now
    session.flush()
    audit.record(session, actor, "step.removed_verified", "case_step", step.id, case.id,
                 step_id=step.step_id, evidence_id=evidence_id)
    return step


# -- as plain data (the JSON API) ---------------------------------------------------------------------
#: the API's verdict for each stored one: a first removal is "removed", not yet confirmed
API_VERDICTS = {STILL_ONLINE: STILL_ONLINE, CHANGED: CHANGED, REMOVED_PENDING: REMOVED, REMOVED: REMOVED,
                UNREACHABLE: UNREACHABLE, UNCERTAIN: UNCERTAIN}


def recheck_data(row: Recheck, decider: User | None = None) -> dict[str, Any]:
    """One re-check as plain data: verdict (None while its capture runs), reason, captures, times, decider."""
    return {
        "id": row.id,
        "state": "decided" if row.verdict else "pending",
        "verdict": API_VERDICTS.get(row.verdict, row.verdict) if row.verdict else None,
        "removal_confirmed": row.verdict == REMOVED if row.verdict in (REMOVED, REMOVED_PENDING) else None,
        "reason": row.reason or (row.details or {}).get("reason"),
        "reason_code": row.reason_code,
        "evidence_id": row.evidence_id,
        "baseline_evidence_id": row.baseline_evidence_id,
        "created_at": row.created_at,
        "decided_at": row.decided_at,
        "decided_by": {"id": decider.id, "name": decider.name} if decider is not None else None,
    }


def rechecks_data(session: Session, case: Case) -> list[dict[str, Any]]:
    """Every re-check of the case, oldest first, as plain data."""
    rows = list(session.execute(select(Recheck).where(Recheck.case_id == case.id).order_by(Recheck.id)).scalars())
    ids = {r.decided_by_id for r in rows if r.decided_by_id}
    people = {u.id: u for u in session.execute(select(User).where(User.id.in_(ids))).scalars()} if ids else {}
    return [recheck_data(r, people.get(r.decided_by_id) if r.decided_by_id else None) for r in rows]
