"""Object lock that ends when the case's retention ends (issue 16, evidence in S3).

Every blob is written with object-lock retention ``VAERN_S3_OBJECT_LOCK_DAYS`` ahead (storage.s3blobs).
When a case is closed, its retention clock starts: the ``closed_case`` rule erases it ``keep`` after
``closed_at``. From then on its blobs' retain-until is moved to ``closed_at + keep``, so the store itself
protects the evidence exactly as long as Værn must keep it, and the lock has ended by the time the retention
run erases the case.

- **Only ever extended**: COMPLIANCE retention cannot be shortened, and a blob shared by two cases (the store
  is content-addressed) gets the later of their dates. A reopened case keeps the lock it had; closing it again
  extends it to the new close + keep.
- **Never in a request's transaction**: closing notes the case (tracker.after_commit.CASE_LOCKS); after commit
  the adapter enqueues ``extend_case_locks`` (a job), which reads the dates in a short read-only session and then
  talks to S3 with no transaction open. The daily retention run repeats it for every closed case (a sweep for
  a job that was lost), calling S3 only where the recorded retain-until is earlier than the target.
- **Legal hold** is Værn's own (tracker.cases.hold); S3 legal hold is not used. A held case's blobs may outlive
  their lock; the hold keeps them, because the run never erases a held case (its rows keep referring to them).
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.blobs import BlobError
from storage.types import utcnow
from storage.models import Artifact, Case, CaseStep, Evidence, StepAttachment
from tracker.workflow.retention import RetentionRule

if TYPE_CHECKING:
    from tracker.adapters.runtime import Runtime

log = logging.getLogger(__name__)


def _refs(session: Session, *, case_ids: Iterable[int] | None = None, shas: Iterable[str] | None = None):
    """(sha256, case id) for every row that refers to a blob, limited to ``case_ids`` or to ``shas``."""
    ids = list(case_ids) if case_ids is not None else None
    wanted = list(shas) if shas is not None else None
    queries = [select(Artifact.sha256, Evidence.case_id).join(Evidence, Evidence.id == Artifact.evidence_id)]
    queries += [select(col, Evidence.case_id).where(col.is_not(None))
                for col in (Evidence.upload_sha256, Evidence.manifest_sha256, Evidence.timestamp_sha256)]
    queries.append(select(StepAttachment.sha256, CaseStep.case_id)
                   .join(CaseStep, CaseStep.id == StepAttachment.case_step_id).where(StepAttachment.sha256.is_not(None)))
    out: set[tuple[str, int]] = set()
    for q in queries:
        sha_col, case_col = q.selected_columns
        if ids is not None:
            q = q.where(case_col.in_(ids))
        if wanted is not None:
            q = q.where(sha_col.in_(wanted))
        out.update((sha, cid) for sha, cid in session.execute(q))
    return out


def lock_targets(session: Session, rule: RetentionRule, case_ids: Iterable[int] | None = None) -> dict[str, datetime]:
    """SHA-256 → the date its lock should last until: the latest ``closed_at + keep`` of the closed, not erased
    cases that refer to it. ``case_ids``: only the blobs of these cases (None: of every closed case)."""
    if case_ids is None:
        case_ids = list(session.execute(select(Case.id).where(Case.status == "closed", Case.erased_at.is_(None)))
                        .scalars())
    shas = {sha for sha, _ in _refs(session, case_ids=case_ids)}
    if not shas:
        return {}
    refs = _refs(session, shas=shas)  # every case sharing those blobs
    ends = dict(session.execute(select(Case.id, Case.closed_at).where(
        Case.id.in_({cid for _, cid in refs}), Case.status == "closed", Case.closed_at.is_not(None),
        Case.erased_at.is_(None))).all())
    targets: dict[str, datetime] = {}
    for sha, cid in refs:
        if cid in ends:
            end = ends[cid] + rule.keep
            if sha not in targets or end > targets[sha]:
                targets[sha] = end
    return targets


def extend_case_locks(rt: "Runtime", case_ids: Iterable[int] | None = None) -> list[tuple[str, datetime]]:
    """Extend the object lock of the given cases' blobs (None: every closed case's) to their retention's end;
    returns (blob, new retain-until) for each lock that was extended. Nothing to do on local disk."""
    if rt.blobs.kind != "s3":
        return []
    rule = rt.retention.enforced("closed_case")
    if rule is None:  # no enforced rule: Værn never erases a closed case, so the lock has no end to follow
        return []
    with rt.Session() as session:  # read, then close: no transaction stays open while S3 is called
        targets = lock_targets(session, rule, case_ids)
    extended: list[tuple[str, datetime]] = []
    now = utcnow()
    for sha, until in sorted(targets.items()):
        rec = rt.blobs.recorded(sha)  # type: ignore[attr-defined]
        if until <= now or rec is None or (rec.retain_until is not None and rec.retain_until >= until):
            continue
        try:
            in_force = rt.blobs.extend_retention(sha, until)
        except BlobError as exc:  # the next run (or the next close) tries again
            log.error("%s", exc)
            continue
        if in_force is not None and in_force >= until:
            extended.append((sha, in_force))
    return extended
