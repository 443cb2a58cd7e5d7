"""Case packages and PDF reports are built by a job, never inside a web request.

Printing PDFs in Chromium and zipping evidence takes seconds to minutes; a web request that did it
held a database transaction (and on SQLite the write lock) all that time, so every other user
waited. Now a request only records an ``ExportJob`` (short write), a huey task builds the file
reading in its own snapshot (no lock), saves it under ``<data dir>/exports/<id>/`` and marks the job
done; the page shows the progress and the download is served from that file and audited as before
("package.export" / "report.download" with the file's SHA-256).

A job is only ever seen by the person who asked for it (and only while they may still see the case).
Like captures, a job is claimed with a lease and at most MAX_ATTEMPTS times; the periodic sweep
re-enqueues lost jobs, fails exhausted ones and removes files after KEEP_FOR.
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from storage.models import Case, Evidence, ExportJob, User
from storage.types import utcnow
from tracker import after_commit, uow
from tracker.cases.evidence import worker_name
from tracker.errors import DomainError, NotFound
from tracker.oversight import audit
from tracker.packaging.export import write_case_package
from tracker.packaging.reports import case_report_pdf, evidence_report_pdf

if TYPE_CHECKING:
    from tracker.adapters.runtime import Runtime

log = logging.getLogger(__name__)

KINDS = ("package", "case_report", "evidence_report")
ACTIVE = ("queued", "running")
#: a ready file is kept this long, then removed (the job shows "expired"; ask for a new one)
KEEP_FOR = timedelta(hours=24)
#: a queued job not picked up within this time is enqueued again (lost message)
REQUEUE_AFTER = timedelta(seconds=90)
LEASE = timedelta(minutes=15)
MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class ExportFile:
    path: Path
    filename: str
    media_type: str


def filename_for(job: ExportJob, case: Case) -> str:
    if job.kind == "package":
        return f"{case.ref}-sagspakke.zip"
    if job.kind == "case_report":
        return f"{case.ref}-sagsrapport.pdf"
    return f"{case.ref}-bevis-{job.evidence_id}-rapport.pdf"


def media_type_for(job: ExportJob) -> str:
    return "application/zip" if job.kind == "package" else "application/pdf"


def job_dir(rt: "Runtime", job_id: int) -> Path:
    return rt.settings.data_dir / "exports" / str(int(job_id))


# -- asking for one (a web or API request: one short write) ----------------------------------------------
def request_export(session: Session, user: User, case: Case, kind: str, *, evidence_id: int | None = None,
                   via: str = "web") -> ExportJob:
    """The user's running job for this file, or a new one (enqueued once the transaction commits).

    The caller has checked that ``user`` may see ``case``; an evidence id of another case is NotFound.
    """
    if kind not in KINDS:
        raise DomainError("bad_kind", f"unknown export kind {kind!r}; one of {', '.join(KINDS)}", "kind")
    if kind == "evidence_report":
        if evidence_id is None or not any(e.id == evidence_id for e in case.evidence):
            raise NotFound(str(evidence_id))
    else:
        evidence_id = None
    running = session.execute(select(ExportJob).where(
        ExportJob.case_id == case.id, ExportJob.requested_by_id == user.id, ExportJob.kind == kind,
        ExportJob.evidence_id.is_(None) if evidence_id is None else ExportJob.evidence_id == evidence_id,
        ExportJob.state.in_(ACTIVE)).order_by(ExportJob.id.desc()).limit(1)).scalar()
    if running is not None:
        return running
    job = ExportJob(case_id=case.id, evidence_id=evidence_id, kind=kind, requested_by_id=user.id, via=via,
                    state="queued", step="queued", attempts=0, created_at=utcnow())
    session.add(job)
    session.flush()
    audit.record(session, user, "export.requested", "case", case.ref, case.id, job=job.id, kind=kind,
                 evidence=evidence_id, via=via)
    after_commit.export(session, job.id)
    return job


def latest_ready(session: Session, user: User, case: Case, kind: str, evidence_id: int | None) -> ExportJob | None:
    """The user's newest done job for this file that the old download URL has not handed out yet."""
    return session.execute(select(ExportJob).where(
        ExportJob.case_id == case.id, ExportJob.requested_by_id == user.id, ExportJob.kind == kind,
        ExportJob.evidence_id.is_(None) if evidence_id is None else ExportJob.evidence_id == evidence_id,
        ExportJob.state == "done", ExportJob.served_at.is_(None)).order_by(ExportJob.id.desc()).limit(1)).scalar()


def get_job_for(session: Session, user: User, case: Case, job_id: int) -> ExportJob:
    """The job if it is this user's and this case's; NotFound otherwise (the same for both)."""
    job = session.get(ExportJob, job_id)
    if job is None or job.case_id != case.id or job.requested_by_id != user.id:
        raise NotFound(str(job_id))
    return job


def jobs_for(session: Session, user: User, case: Case, limit: int = 5) -> list[ExportJob]:
    """The user's newest jobs for the case (for the case page)."""
    return list(session.execute(select(ExportJob).where(
        ExportJob.case_id == case.id, ExportJob.requested_by_id == user.id)
        .order_by(ExportJob.id.desc()).limit(limit)).scalars())


def ready_file(rt: "Runtime", job: ExportJob, case: Case) -> ExportFile:
    """The finished file; NotFound when the job is not done or the file is gone (expired)."""
    if job.state != "done" or not job.file_name:
        raise NotFound(str(job.id))
    path = job_dir(rt, job.id) / job.file_name
    if not path.is_file():
        raise NotFound(str(job.id))
    return ExportFile(path, filename_for(job, case), media_type_for(job))


def take_ready(rt: "Runtime", session: Session, user: User, case: Case, kind: str,
               evidence_id: int | None) -> ExportJob | None:
    """The user's ready file of this kind that the old download URL has not handed out yet, now marked
    handed out (the caller sends it with ``record_download``); None if there is none or it expired."""
    job = latest_ready(session, user, case, kind, evidence_id)
    if job is None:
        return None
    try:
        ready_file(rt, job, case)
    except NotFound:
        return None
    job.served_at = utcnow()
    return job


def record_download(session: Session, user: User, case: Case, job: ExportJob, via: str) -> None:
    """The audit event of a download, as before the jobs: the file's SHA-256 and size."""
    filename = filename_for(job, case)
    if job.kind == "package":
        audit.record(session, user, "package.export", "case", case.ref, case.id, via=via, sha256=job.sha256,
                     size=job.size, files=job.files, filename=filename, job=job.id)
    else:
        report = "case" if job.kind == "case_report" else "evidence"
        object_id = case.ref if job.kind == "case_report" else job.evidence_id
        audit.record(session, user, "report.download", report, object_id, case.id, report=report,
                     sha256=job.sha256, size=job.size, via=via, job=job.id)


# -- building one (the huey task) -------------------------------------------------------------------------
def _claim(rt: "Runtime", job_id: int) -> tuple[str, int] | None:
    now = utcnow()
    worker = worker_name()
    with uow.unit_of_work(rt) as session:
        res = session.execute(update(ExportJob).where(
            ExportJob.id == job_id, ExportJob.attempts < MAX_ATTEMPTS,
            or_(ExportJob.state == "queued", (ExportJob.state == "running") & (ExportJob.lease_expires_at < now)),
        ).values(state="running", step="building", attempts=ExportJob.attempts + 1, started_at=now,
                 lease_expires_at=now + LEASE, worker=worker))
        if res.rowcount != 1:
            return None
        return worker, session.get(ExportJob, job_id).attempts


def _finish(rt: "Runtime", job_id: int, lease: tuple[str, int], **values) -> bool:
    """Write the outcome only if this worker still holds the job (fencing); False otherwise."""
    worker, attempt = lease
    with uow.unit_of_work(rt) as session:
        res = session.execute(update(ExportJob).where(
            ExportJob.id == job_id, ExportJob.state == "running", ExportJob.worker == worker,
            ExportJob.attempts == attempt).values(lease_expires_at=None, **values))
        return res.rowcount == 1


def _step(rt: "Runtime", job_id: int, lease: tuple[str, int], step: str) -> None:
    worker, attempt = lease
    with uow.unit_of_work(rt) as session:
        session.execute(update(ExportJob).where(ExportJob.id == job_id, ExportJob.worker == worker,
                                                ExportJob.attempts == attempt).values(step=step))


def run_export_job(rt: "Runtime", job_id: int) -> str:
    """Build the file of one job; returns the final state ("skipped": another worker has it)."""
    lease = _claim(rt, job_id)
    if lease is None:
        return "skipped"
    folder = job_dir(rt, job_id)
    work = folder.with_name(f"{job_id}.part-{lease[1]}")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        # a read-only session: on SQLite a deferred snapshot, so nobody waits while Chromium prints
        with rt.Session() as session:
            job = session.get(ExportJob, job_id)
            case = session.get(Case, job.case_id)
            name = filename_for(job, case)
            out = work / name
            files = None
            if job.kind == "package":
                package = write_case_package(rt, session, case, out)
                sha, size, files = package.sha256, package.size, package.files
            else:
                if job.kind == "case_report":
                    data = case_report_pdf(rt, session, case)
                else:
                    data = evidence_report_pdf(rt, session, session.get(Evidence, job.evidence_id))
                with open(out, "xb") as fh:
                    fh.write(data)
                sha, size = hashlib.sha256(data).hexdigest(), len(data)
            session.rollback()  # it read only; end the snapshot before saving
        _step(rt, job_id, lease, "saving")
        with open(out, "rb") as fh:
            os.fsync(fh.fileno())
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(work, folder)
    except Exception as exc:  # noqa: BLE001 - recorded on the job (and retried by huey up to the limit)
        shutil.rmtree(work, ignore_errors=True)
        log.exception("export job %s failed (attempt %s)", job_id, lease[1])
        code = exc.code if isinstance(exc, DomainError) else type(exc).__name__
        reason = f"{code}: {exc}"[:2000]
        if lease[1] >= MAX_ATTEMPTS or isinstance(exc, DomainError):
            _finish(rt, job_id, lease, state="failed", step="failed", error=reason, finished_at=utcnow())
            with uow.unit_of_work(rt) as session:
                job = session.get(ExportJob, job_id)
                audit.record(session, None, "export.failed", "case", job.case_id, job.case_id, job=job_id,
                             kind=job.kind, error=reason)
            return "failed"
        _finish(rt, job_id, lease, state="queued", step="queued", error=reason)
        raise
    if not _finish(rt, job_id, lease, state="done", step="done", file_name=name, sha256=sha, size=size,
                   files=files, finished_at=utcnow(), error=None):
        log.warning("export job %s: lease lost before it was marked done; the newer worker's file stands", job_id)
        return "skipped"
    return "done"


def sweep(rt: "Runtime") -> int:
    """Re-enqueue lost jobs, fail exhausted ones, remove expired files; returns how many were re-enqueued."""
    now = utcnow()
    with uow.unit_of_work(rt) as session:
        stalled = or_((ExportJob.state == "queued") & (ExportJob.created_at < now - REQUEUE_AFTER),
                      (ExportJob.state == "running") & (ExportJob.lease_expires_at < now))
        session.execute(update(ExportJob).where(stalled, ExportJob.attempts >= MAX_ATTEMPTS).values(
            state="failed", step="failed", lease_expires_at=None, finished_at=now,
            error=f"attempts_exhausted: gave up after {MAX_ATTEMPTS} attempts"))
        ids = list(session.execute(select(ExportJob.id).where(stalled, ExportJob.attempts < MAX_ATTEMPTS)).scalars())
        expired = list(session.execute(select(ExportJob.id).where(
            ExportJob.state == "done", ExportJob.finished_at < now - KEEP_FOR)).scalars())
        if expired:
            session.execute(update(ExportJob).where(ExportJob.id.in_(expired)).values(state="expired", step="expired"))
    for job_id in expired:
        shutil.rmtree(job_dir(rt, job_id), ignore_errors=True)
    for job_id in ids:
        rt.enqueue_export(job_id)
    return len(ids)
