"""Re-checks: re-capture a URL whose takedown is open and compare it with the original capture.

Removal is verified, not assumed (DOMAIN.md): detection is rule-based (tech.md §3) — HTTP
404/410/451, a platform's removal text, a redirect to the site's home page, the post element
gone — and a removal counts only when two re-checks in a row agree. Anything that only says
"could not look" (capture failed, timed out, refused, blocked, a login wall, DNS or connection
errors, 5xx, 401/403/429) is ``unreachable`` and never reads as removed.

Verdicts: ``still_online``, ``changed`` (the post is there but its text or picture differs),
``removed_pending`` (the first removal-looking result), ``removed`` (a second one agreeing),
``unreachable``.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session, aliased

from storage.models import Case, CaseStep, Evidence, EvidenceState, Recheck, Role, User
from storage.types import utcnow
from tracker import audit, jobs
from tracker.errors import DomainError, NotFound
from tracker.permissions import can_view_case

if TYPE_CHECKING:
    from tracker.runtime import Runtime

log = logging.getLogger(__name__)

STILL_ONLINE, CHANGED, REMOVED_PENDING, REMOVED, UNREACHABLE = (
    "still_online", "changed", "removed_pending", "removed", "unreachable")
#: capture statuses of an original capture that show the post, so a re-check can be compared with it
BASELINE_STATUSES = ("ok", "consent_dismissed", "consent_accepted", "truncated")
REMOVED_HTTP = (404, 410, 451)
#: 64-bit pHash/dHash distance up to which two post images are "the same" (tech.md §3: 0 same,
#: 1–10 variation; a different post with the same photo scored 4, so images only corroborate)
HASH_THRESHOLD = 8
#: platforms that send a logged-out visitor to the home page instead of the post (platforms.md §4)
HOME_REDIRECT_IS_LOGIN = ("instagram",)
#: re-checks started per periodic run at most (the oldest-checked first)
MAX_PER_RUN = 50
_FINISHED = (EvidenceState.done, EvidenceState.failed, EvidenceState.refused)


@dataclass(frozen=True)
class Finding:
    """What one re-capture shows compared with the baseline: a verdict before the two-agreeing rule."""

    verdict: str  #: still_online | changed | removed | unreachable
    reason: str
    details: dict[str, Any]


# -- comparing two captures (pure) -----------------------------------------------------------------
def hash_distance(a: str | None, b: str | None) -> int | None:
    """Bits that differ between two 64-bit hashes written as 16 hex digits; None if one is missing."""
    if not a or not b:
        return None
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def has_post(manifest: dict[str, Any] | None) -> bool:
    """The capture found the post element (its text or its own screenshot)."""
    if not manifest:
        return False
    hashes = manifest.get("perceptual_hashes") or {}
    return bool(manifest.get("text_sha256")) or hashes.get("basis") == "screenshot_post"


def _is_home(url: str | None) -> bool:
    return bool(url) and urlsplit(url).path in ("", "/") and not urlsplit(url).query


def compare(baseline: dict[str, Any] | None, manifest: dict[str, Any] | None, *,
            state: str = "done", status: str | None = None, error: str | None = None) -> Finding:
    """Compare a re-capture (its manifest, job state and capture status) with the baseline manifest."""
    state = getattr(state, "value", state)
    if state != "done" or manifest is None:
        return Finding(UNREACHABLE, f"the capture did not complete ({state})", {"state": state, "error": error})
    status = status or manifest.get("status")
    http = (manifest.get("http") or {}).get("status")
    final_url = manifest.get("final_url")
    details: dict[str, Any] = {"status": status, "http_status": http, "final_url": final_url}
    if status == "login_wall":
        return Finding(UNREACHABLE, "a login wall stood in front of the page", details)
    if status in ("timed_out", "blocked_by_policy"):
        return Finding(UNREACHABLE, f"the capture ended {status}", details)
    if http in REMOVED_HTTP:  # the server's own answer, even if the capture also failed
        return Finding(REMOVED, f"the server answered HTTP {http}", details)
    if status == "failed" or http is None or http >= 400:  # 5xx, 401/403/429, DNS, refused, ...
        what = f"HTTP {http}" if http else "no answer from the server"
        return Finding(UNREACHABLE, f"the capture failed ({what})", details)
    if status == "not_found":  # a platform's removal text (capture/steps.py detect_not_found)
        return Finding(REMOVED, "the page shows the platform's removal text", details)
    platform = manifest.get("platform")
    base_final = (baseline or {}).get("final_url") or (baseline or {}).get("requested_url")
    if _is_home(final_url) and not _is_home(base_final):
        if platform in HOME_REDIRECT_IS_LOGIN:
            return Finding(UNREACHABLE, f"redirected to the home page ({platform} does that to logged-out visitors)",
                           details)
        return Finding(REMOVED, "the address now leads to the site's home page", details)
    if not has_post(baseline):
        details["comparable"] = False
        return Finding(STILL_ONLINE, "the page answers; the original capture found no post element to compare",
                       details)
    if not has_post(manifest):
        return Finding(REMOVED, "the page answers but the post element is gone", details)
    base_hashes = baseline.get("perceptual_hashes") or {}  # type: ignore[union-attr]
    new_hashes = manifest.get("perceptual_hashes") or {}
    same_basis = base_hashes.get("basis") == new_hashes.get("basis") == "screenshot_post"
    phash = hash_distance(base_hashes.get("phash"), new_hashes.get("phash")) if same_basis else None
    dhash = hash_distance(base_hashes.get("dhash"), new_hashes.get("dhash")) if same_basis else None
    same_text = baseline.get("text_sha256") == manifest.get("text_sha256")  # type: ignore[union-attr]
    details.update(same_text=same_text, phash_distance=phash, dhash_distance=dhash)
    if not same_text:
        return Finding(CHANGED, "the post's text differs from the original capture", details)
    if (phash is not None and phash > HASH_THRESHOLD) or (dhash is not None and dhash > HASH_THRESHOLD):
        return Finding(CHANGED, "the post's text is the same but its picture differs", details)
    return Finding(STILL_ONLINE, "the post is online as captured", details)


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
    with rt.transaction() as session:
        row = _add_recheck(session, session.get(Case, case_id), session.get(Evidence, baseline_id), None)
        recheck_id, ev_id = row.id, row.evidence_id
    jobs.enqueue_capture(rt, ev_id)  # the row is committed; the sweep re-enqueues it if this fails
    return recheck_id


def request_recheck(session: Session, case: Case, actor: User) -> list[Recheck]:
    """Re-check every captured URL of the case now (flush only; captures are enqueued after commit).

    A URL whose re-check is already queued or running is not captured twice: its pending row is
    returned. Raises NotFound if ``actor`` may not see the case, DomainError if they may not act on
    it or it has no captured URL.
    """
    if not can_view_case(actor, case):
        raise NotFound(case.ref)
    if actor.role not in (Role.leader, Role.amr, Role.employee):
        raise DomainError("not_allowed", "only the case's leader, AMR or employee can ask for a re-check")
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
            jobs.enqueue_capture_after_commit(session, pending.evidence_id)
        rows.append(pending)
    return rows


# -- deciding ---------------------------------------------------------------------------------------
def load_manifest(rt: "Runtime", ev: Evidence) -> dict[str, Any] | None:
    if ev.state is not EvidenceState.done or not ev.manifest_sha256:
        return None
    return json.loads(rt.blobs.read(ev.manifest_sha256))


def _previous_informative(session: Session, row: Recheck) -> Recheck | None:
    """The last decided re-check of the same baseline before ``row`` that was not ``unreachable``."""
    return session.execute(
        select(Recheck).where(Recheck.baseline_evidence_id == row.baseline_evidence_id, Recheck.id < row.id,
                              Recheck.verdict.is_not(None), Recheck.verdict != UNREACHABLE)
        .order_by(Recheck.id.desc()).limit(1)).scalar()


def decide(rt: "Runtime", recheck: Recheck | int) -> str | None:
    """Compare a finished re-capture with its baseline and record the verdict (once); None if not finished.

    A removal-looking result is ``removed_pending`` unless the previous informative re-check of the
    same URL (``unreachable`` ones are skipped) also looked removed; then it is ``removed``. When
    the case thereby becomes verified removed, the unit's leaders are told (after commit).
    """
    recheck_id = recheck if isinstance(recheck, int) else recheck.id
    with rt.transaction() as session:
        row = session.get(Recheck, recheck_id)
        if row is None or row.verdict is not None:
            return row.verdict if row is not None else None
        ev = session.get(Evidence, row.evidence_id) if row.evidence_id else None
        if ev is None or ev.state not in _FINISHED:
            return None
        baseline = session.get(Evidence, row.baseline_evidence_id)
        was_verified = verified_removal(session, session.get(Case, row.case_id))
        found = compare(load_manifest(rt, baseline), load_manifest(rt, ev), state=ev.state.value,
                        status=ev.capture_status, error=ev.error)
        verdict, details = found.verdict, {"reason": found.reason, **found.details}
        if verdict == REMOVED:
            prev = _previous_informative(session, row)
            if prev is not None and prev.verdict in (REMOVED, REMOVED_PENDING):
                details["agrees_with_recheck"] = prev.id
            else:
                verdict = REMOVED_PENDING
        row.verdict, row.details, row.decided_at = verdict, details, utcnow()
        session.flush()
        audit.record(session, None, "recheck.decided", "recheck", row.id, row.case_id, verdict=verdict,
                     evidence_id=ev.id, reason=found.reason)
        case_id = row.case_id
        now_verified = verified_removal(session, session.get(Case, case_id))
    if now_verified is not None and now_verified != was_verified:
        from tracker import notify

        try:
            notify.removal_verified(rt, case_id)
        except Exception:  # the periodic notification sweep sends it later
            log.exception("could not send the removal notification for case %s", case_id)
    return verdict


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
                                  Recheck.verdict != UNREACHABLE).order_by(Recheck.id)).scalars()
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
