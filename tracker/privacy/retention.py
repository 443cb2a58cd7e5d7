"""The retention run (issue 16): erase what the retention rules say is due, leave an anonymous tombstone.

What erasing a closed case does (rule ``closed_case``): every evidence blob (artifacts, manifest, timestamp token,
uploaded original), every step attachment's file, the letters' text, the description, notes and reasons, the
captured URLs and author handles, the perceptual and text hashes (the near-duplicate index), the search text
(``case_texts``) and finished export files are removed. The case row stays as the tombstone: reference, unit,
category, platform, dates, status, the steps' states and dates and the rows' counts, so the MED statistics
count exactly what they counted before. A case under legal hold (tracker.cases.hold) is never erased.

Why `vaern verify` stays green: the audit chain commits to the erased content only through hashes. An event's
hash covers the digest of its details (tracker.oversight.audit, since migration 0009), so the details of the
case's events (URLs, notes, names, handles) are replaced by an erasure marker and the chain still verifies;
events written before that migration hash their details directly and are kept as they are (counted as
``events_old_format``). Case facts are in the chain as hashes (tracker.cases.casefacts), so the ``case.erase`` event records the description's change from the old
hash to the hash of "" like any other edit; evidence is in it by fingerprint, which is kept on the row. The
rows that referred to a blob lose the reference in the same transaction, and the blob is deleted from the store
only after that commit, when no remaining row refers to it (two cases can share one content-addressed blob).
Verify lists each erasure (which case, when, by which rule) from the chain.

Each erasure is one audit event naming the rule (``case.erase``, ``offender.erase``, ``offender.suggestion_erase``),
by the system (actor None). Blob deletion goes through the blob store's ``delete`` so another store can plug in.
On S3 a blob still under object lock is left (never failing the run), named in ``case.erase`` (``blobs_locked``)
and in the run's output, and deleted by the first run after its lock has ended; closing a case moves the lock's
end to the end of the case's retention (tracker.integrity.objectlock).
"""
from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from storage.blobs import BlobLocked
from storage.types import utcnow
from storage.models import (Artifact, AuditEvent, BlobVersion, Case, CaseClock, CaseOffender, CaseStep, CaseText,
                            Evidence, EvidenceState, ExportJob, Letter, Offender, Recheck, StepAttachment)
from tracker import uow
from tracker.cases import casefacts
from tracker.oversight import audit
from tracker.integrity.blob_check import blob_references
from tracker.integrity.objectlock import extend_case_locks
from tracker.packaging.exports import job_dir
from tracker.workflow.retention import RetentionRule, RetentionRules

if TYPE_CHECKING:
    from tracker.adapters.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass
class Erased:
    """What one run erased (or, in a dry run, would erase)."""

    as_of: datetime
    dry_run: bool
    cases: list[tuple[str, str]] = field(default_factory=list)  #: (case ref, rule id)
    held: list[str] = field(default_factory=list)  #: refs due by their rule but kept by a legal hold
    offenders: list[tuple[int, str]] = field(default_factory=list)  #: (offender id, rule id)
    suggestions: list[tuple[int, str]] = field(default_factory=list)  #: (case_offenders id, rule id)
    blobs_deleted: int = 0
    #: blobs no row refers to any more that the store would not delete yet: (sha256, lock mode, locked until);
    #: mode "LEGAL_HOLD" for an S3 legal hold, "error" when the store failed (until None)
    blobs_pending: list[tuple[str, str | None, datetime | None]] = field(default_factory=list)
    locks_extended: int = 0  #: blobs of closed cases whose object lock was extended to their retention's end
    not_enforced: list[str] = field(default_factory=list)  #: rule ids that are policy only

    def lines(self) -> list[str]:
        what = "would erase" if self.dry_run else "erased"
        out = [f"case {ref}: {what} (rule {rule})" for ref, rule in self.cases]
        out += [f"case {ref}: due, but under legal hold: kept" for ref in self.held]
        out += [f"offender {oid}: {what} (rule {rule})" for oid, rule in self.offenders]
        out += [f"offender suggestion {sid}: {what} (rule {rule})" for sid, rule in self.suggestions]
        out += [f"rule {rid}: not enforced by Værn (policy only)" for rid in self.not_enforced]
        if not self.dry_run:
            out.append(f"{self.blobs_deleted} blob(s) deleted from the store")
            for sha, mode, until in self.blobs_pending:
                if mode == "error":
                    out.append(f"blob {sha}: the store could not delete it now (see the log): left, the next run "
                               "tries again")
                    continue
                lock = f"{mode or 'locked'} until {until:%Y-%m-%d %H:%M} UTC" if until else (mode or "locked")
                out.append(f"blob {sha}: still under object lock ({lock}): left in the store, "
                           "a run after that date deletes it")
            if self.blobs_pending:
                out.append(f"{len(self.blobs_pending)} blob(s) pending: no case refers to them any more, "
                           "the store keeps them until their lock ends")
            if self.locks_extended:
                out.append(f"{self.locks_extended} blob(s) of closed cases: object lock extended to the end "
                           "of their retention")
        return out


# -- what is due ------------------------------------------------------------------------------------
def due_cases(session: Session, rule: RetentionRule, as_of: datetime) -> tuple[list[Case], list[Case]]:
    """(cases to erase, cases due but held): closed before the rule's cut-off and not erased yet."""
    rows = session.execute(select(Case).where(Case.status == "closed", Case.closed_at.is_not(None),
                                              Case.closed_at < rule.due_before(as_of), Case.erased_at.is_(None))
                           .order_by(Case.id)).scalars().all()
    return [c for c in rows if c.hold_at is None], [c for c in rows if c.hold_at is not None]


def _live_link():
    """A link from a case that is not erased and a link that was not dismissed."""
    return (select(CaseOffender.id).join(Case, Case.id == CaseOffender.case_id)
            .where(CaseOffender.offender_id == Offender.id, CaseOffender.state != "dismissed", Case.erased_at.is_(None)))


def due_offenders(session: Session, rule: RetentionRule, as_of: datetime) -> list[Offender]:
    return list(session.execute(select(Offender).where(Offender.erased_at.is_(None),
                                                       Offender.created_at < rule.due_before(as_of),
                                                       ~exists(_live_link())).order_by(Offender.id)).scalars())


def due_suggestions(session: Session, rule: RetentionRule, as_of: datetime) -> list[CaseOffender]:
    return list(session.execute(select(CaseOffender).join(Case, Case.id == CaseOffender.case_id)
                                .where(CaseOffender.state == "suggested", CaseOffender.created_at < rule.due_before(as_of),
                                       Case.hold_at.is_(None), Case.erased_at.is_(None))
                                .order_by(CaseOffender.id)).scalars())


# -- erasing ----------------------------------------------------------------------------------------
def erase_case(session: Session, case: Case, rule: RetentionRule, as_of: datetime) -> tuple[set[str], list[int]]:
    """Erase the case's content in this transaction, record ``case.erase``; return (blobs it referred to,
    export job ids whose files are to go). The caller deletes those after commit (``_after``)."""
    if case.hold_at is not None:
        raise ValueError(f"case {case.ref} is under legal hold")
    blobs: set[str] = set()
    evidence = list(session.execute(select(Evidence).where(Evidence.case_id == case.id)).scalars())
    ev_ids = [e.id for e in evidence]
    artifacts = list(session.execute(select(Artifact).where(Artifact.evidence_id.in_(ev_ids))).scalars()) if ev_ids else []
    for art in artifacts:
        blobs.add(art.sha256)
        session.delete(art)
    for ev in evidence:
        blobs.update(s for s in (ev.upload_sha256, ev.manifest_sha256, ev.timestamp_sha256) if s)
        if ev.state in (EvidenceState.queued, EvidenceState.running):  # no worker may pick it up again
            ev.state, ev.lease_expires_at = EvidenceState.failed, None
        for name in ("source_url", "original_filename", "upload_sha256", "manifest_sha256", "timestamp_sha256",
                     "timestamp_error", "error", "author_handle", "author_profile_url", "phash", "dhash",
                     "text_sha256", "hash_basis", "worker"):
            setattr(ev, name, None)
    steps = list(session.execute(select(CaseStep).where(CaseStep.case_id == case.id)).scalars())
    step_ids = [s.id for s in steps]
    attachments = list(session.execute(select(StepAttachment).where(StepAttachment.case_step_id.in_(step_ids)))
                       .scalars()) if step_ids else []
    for att in attachments:
        if att.sha256:
            blobs.add(att.sha256)
        att.sha256, att.filename, att.media_type = None, None, None
    for step in steps:
        step.note, step.reason, step.statement_of_reasons, step.platform_ref = "", None, None, None
    letters = list(session.execute(select(Letter).where(Letter.case_id == case.id)).scalars())
    for letter in letters:
        letter.subject, letter.body = "", ""
    for clock in session.execute(select(CaseClock).where(CaseClock.case_id == case.id)).scalars():
        clock.note = ""
    for recheck in session.execute(select(Recheck).where(Recheck.case_id == case.id)).scalars():
        recheck.details, recheck.reason = {}, None
    session.execute(delete(CaseText).where(CaseText.case_id == case.id))
    exports = list(session.execute(select(ExportJob.id).where(ExportJob.case_id == case.id)).scalars())
    for job in session.execute(select(ExportJob).where(ExportJob.case_id == case.id)).scalars():
        job.state, job.step, job.file_name, job.error = "expired", "expired", None, None
    erased_events, old_events = _erase_event_details(
        session, select(AuditEvent).where(AuditEvent.case_id == case.id), rule)
    now = utcnow()
    locked = [{"sha256": sha, "until": until.isoformat()} for sha, until in session.execute(
        select(BlobVersion.sha256, BlobVersion.retain_until).where(BlobVersion.sha256.in_(blobs),
                                                                   BlobVersion.retain_until > now)
        .order_by(BlobVersion.sha256))] if blobs else []
    facts = casefacts.snapshot(case)
    case.description = ""
    case.erased_at, case.erased_rule = utcnow(), rule.id
    session.flush()
    audit.record(session, None, "case.erase", "case", case.ref, case.id, rule=rule.id, as_of=as_of.isoformat(),
                 evidence=len(evidence), artifacts=len(artifacts), attachments=len(attachments), letters=len(letters),
                 blobs=len(blobs), blobs_locked=locked or None, events_erased=erased_events,
                 events_old_format=old_events or None,
                 facts_sha256=casefacts.changed(facts, case))
    return blobs, exports


def _erase_event_details(session: Session, query, rule: RetentionRule) -> tuple[int, int]:
    """Blank the details of the events ``query`` selects (audit.erase_details): (erased, old-format events kept)."""
    erased = old = 0
    for ev in session.execute(query.order_by(AuditEvent.id)).scalars():
        if audit.erase_details(ev, rule.id):
            erased += 1
        elif not ev.details_sha256 and ev.details:
            old += 1
    session.flush()
    return erased, old


def erase_offender(session: Session, offender: Offender, rule: RetentionRule, as_of: datetime) -> None:
    """Erase who the offender is (handle, profile, name, note); platform and kind stay for statistics."""
    offender.handle = f"slettet-{offender.id}"
    offender.profile_url = offender.display_name = None
    offender.note = ""
    offender.erased_at, offender.erased_rule = utcnow(), rule.id
    erased, old = _erase_event_details(session, select(AuditEvent).where(
        AuditEvent.object_type == "offender", AuditEvent.object_id == str(offender.id)), rule)
    audit.record(session, None, "offender.erase", "offender", offender.id, None, rule=rule.id, as_of=as_of.isoformat(),
                 events_erased=erased, events_old_format=old or None)


def erase_suggestion(session: Session, link: CaseOffender, rule: RetentionRule, as_of: datetime) -> None:
    """Remove an offender suggestion nobody confirmed or dismissed."""
    audit.record(session, None, "offender.suggestion_erase", "case_offender", link.id, link.case_id,
                 offender=link.offender_id, rule=rule.id, as_of=as_of.isoformat())
    session.delete(link)
    session.flush()


def delete_unreferenced_blobs(rt: "Runtime", candidates: set[str]) -> tuple[int, list[tuple[str, str | None,
                                                                                          datetime | None]]]:
    """Delete each candidate blob no row refers to any more (after the erasing transaction committed), and
    every recorded S3 blob no row refers to whose object lock has ended (left by an earlier run because it was
    locked then). Returns (deleted, pending): a blob the store refuses to delete yet (BlobLocked: its lock or a
    legal hold, or any store error) is left and listed as (sha256, mode, until); it never fails the run."""
    now = utcnow()
    with rt.Session() as session:
        still = set(blob_references(session))
        lock_ended = set(session.execute(select(BlobVersion.sha256).where(BlobVersion.retain_until <= now)).scalars())
    deleted, pending = 0, []
    for sha in sorted((candidates | lock_ended) - still):
        try:
            deleted += bool(rt.blobs.delete(sha))
        except BlobLocked as exc:
            pending.append((sha, exc.mode, exc.until))
        except Exception as exc:  # BlobError, or the store unreachable: the commit stands, a later run tries again
            log.error("retention: blob %s not deleted: %s; a later run tries again", sha, exc)
            pending.append((sha, "error", None))
    with rt.Session() as session:  # left by earlier runs, still locked by their record: not tried before the date
        done = {p[0] for p in pending}
        pending += [(sha, mode, until) for sha, mode, until in session.execute(
            select(BlobVersion.sha256, BlobVersion.lock_mode, BlobVersion.retain_until)
            .where(BlobVersion.retain_until > now).order_by(BlobVersion.sha256)) if sha not in still | done]
    return deleted, sorted(pending)


# -- the run ----------------------------------------------------------------------------------------
def run_retention(rt: "Runtime", as_of: datetime, *, dry_run: bool = False,
                  rules: RetentionRules | None = None) -> Erased:
    """Erase everything the rules in force say is due on ``as_of`` (nothing held); ``dry_run``: only say what."""
    rules = rules or rt.retention
    result = Erased(as_of, dry_run, not_enforced=[r.id for r in rules.rules if not r.enforced])
    blobs: set[str] = set()
    exports: list[int] = []
    with uow.unit_of_work(rt) as session:
        if (rule := rules.enforced("offender_suggestion")) is not None:
            for link in due_suggestions(session, rule, as_of):
                result.suggestions.append((link.id, rule.id))
                if not dry_run:
                    erase_suggestion(session, link, rule, as_of)
        if (rule := rules.enforced("closed_case")) is not None:
            due, held = due_cases(session, rule, as_of)
            result.held = [c.ref for c in held]
            for case in due:
                result.cases.append((case.ref, rule.id))
                if not dry_run:
                    found, jobs = erase_case(session, case, rule, as_of)
                    blobs |= found
                    exports += jobs
        if (rule := rules.enforced("offender_unlinked")) is not None:
            session.flush()
            for offender in due_offenders(session, rule, as_of):
                result.offenders.append((offender.id, rule.id))
                if not dry_run:
                    erase_offender(session, offender, rule, as_of)
        if dry_run:
            session.rollback()
            return result
    for job_id in exports:
        shutil.rmtree(job_dir(rt, job_id), ignore_errors=True)
    result.blobs_deleted, result.blobs_pending = delete_unreferenced_blobs(rt, blobs)
    try:  # a sweep: a lost extension job is made good here
        result.locks_extended = len(extend_case_locks(rt))
    except Exception:  # the erasure is committed; the next run (or the next close) extends the locks
        log.exception("retention: object locks of closed cases could not be extended")
    return result
