"""HR's access packages (GDPR art. 15) are built by a job, like case packages, never inside a web request.

An access package carries every stored evidence file of every case of the person (a capture may be up to
VAERN_CAPTURE_MAX_BYTES of traffic) and a PDF printed by Chromium, so its size and time have no useful bound.
The request only records the audit event ``subject.export_requested`` (actor: HR; object: the person); that
event's id is the job's id and the event is the job's only row (``export_jobs`` needs a case, and a package of a
person has none — no migration). The huey task builds the ZIP under ``<data dir>/subject-exports/<id>/`` and
records ``subject.export_built``; the download is recorded as ``subject.export_downloaded`` with the file's
SHA-256. The job's state is read from disk:

- ``<id>/`` with the ZIP and ``result.json``: done (removed after KEEP_FOR: expired)
- ``<id>.failed``: failed, with the reason; HR asks again
- ``<id>.claim``: a worker is building it (older than LEASE: the worker stopped, shown as failed)
- none of these: queued (re-enqueued by the sweep after REQUEUE_AFTER)

Only the HR person who asked sees the job and downloads the file, and only while they are HR.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import AuditEvent, Role, User
from storage.types import utcnow
from tracker import after_commit, uow
from tracker.accounts.permissions import require_role
from tracker.errors import DomainError, NotFound
from tracker.oversight import audit
from tracker.privacy.subject_access import subject_cases
from tracker.packaging.subject_export import write_subject_export

if TYPE_CHECKING:
    from tracker.adapters.runtime import Runtime

log = logging.getLogger(__name__)

REQUESTED = "subject.export_requested"
KEEP_FOR = timedelta(hours=24)
REQUEUE_AFTER = timedelta(seconds=90)
LEASE = timedelta(minutes=15)


@dataclass(frozen=True)
class SubjectJob:
    """One requested package as HR's page shows it."""

    id: int
    subject: User
    requested_at: datetime
    state: str  #: queued | running | done | failed | expired
    error: str | None = None
    sha256: str | None = None
    size: int | None = None
    files: int | None = None


def root(rt: "Runtime") -> Path:
    return rt.settings.data_dir / "subject-exports"


def filename_for(subject_id: int, requested_at: datetime) -> str:
    return f"vaern-indsigt-bruger-{int(subject_id)}-{requested_at:%Y%m%d}.zip"


# -- asking for one (the web request: one audit event) ------------------------------------------------------
def request_subject_export(session: Session, actor: User, subject: User, *, via: str = "web") -> AuditEvent:
    """Record HR's request (the job); the build is enqueued once the transaction commits. NotFound unless HR."""
    require_role(actor, Role.hr)
    event = audit.record(session, actor, "subject.export_requested", "user", subject.id, via=via)
    after_commit.subject_export(session, event.id)
    return event


def _request_event(session: Session, job_id: int) -> AuditEvent | None:
    ev = session.get(AuditEvent, job_id)
    return ev if ev is not None and ev.action == REQUESTED else None


def job_state(rt: "Runtime", event: AuditEvent, now: datetime | None = None) -> tuple[str, dict]:
    """(state, details) of the job of this request event, read from disk."""
    now = now or utcnow()
    base = root(rt)
    result = base / str(event.id) / "result.json"
    if now - event.at > KEEP_FOR:
        return "expired", {}
    if result.is_file():
        return "done", json.loads(result.read_text("utf-8"))
    failed = base / f"{event.id}.failed"
    if failed.is_file():
        return "failed", {"error": failed.read_text("utf-8")}
    claim = base / f"{event.id}.claim"
    if claim.is_file():
        if time.time() - claim.stat().st_mtime > LEASE.total_seconds():
            return "failed", {"error": "worker_stopped: the job's worker stopped before it finished"}
        return "running", {}
    return "queued", {}


def jobs_for(rt: "Runtime", session: Session, actor: User, limit: int = 10) -> list[SubjectJob]:
    """The actor's newest requests with their state (HR only)."""
    require_role(actor, Role.hr)
    events = session.execute(select(AuditEvent).where(AuditEvent.action == REQUESTED,
                                                      AuditEvent.actor_id == actor.id)
                             .order_by(AuditEvent.id.desc()).limit(limit)).scalars()
    out = []
    for ev in events:
        state, info = job_state(rt, ev)
        out.append(SubjectJob(ev.id, session.get(User, int(ev.object_id)), ev.at, state, info.get("error"),
                              info.get("sha256"), info.get("size"), info.get("files")))
    return out


def take_file(rt: "Runtime", session: Session, actor: User, job_id: int, *, via: str = "web") -> tuple[Path, str, dict]:
    """(path, download name, result) of the actor's finished package, the download recorded; NotFound otherwise
    (not HR, not theirs, not done, expired)."""
    require_role(actor, Role.hr)
    ev = _request_event(session, job_id)
    if ev is None or ev.actor_id != actor.id:
        raise NotFound(str(job_id))
    state, info = job_state(rt, ev)
    path = root(rt) / str(ev.id) / str(info.get("file", ""))
    if state != "done" or not path.is_file():
        raise NotFound(str(job_id))
    audit.record(session, actor, "subject.export_downloaded", "user", ev.object_id, job=ev.id, sha256=info["sha256"],
                 size=info["size"], via=via)
    record_cases_handed_out(session, actor, session.get(User, int(ev.object_id)), sha256=info["sha256"], via=via,
                            job=ev.id)
    return path, filename_for(int(ev.object_id), ev.at), info


def record_cases_handed_out(session: Session, actor: User | None, subject: User, *, sha256: str, via: str,
                            job: int | None = None) -> None:
    """One event on each of the person's cases: its content left Værn in their access package (the case's own
    history shows it, like a case package's export)."""
    for case in subject_cases(session, subject):
        audit.record(session, actor, "case.subject_export", "case", case.ref, case.id, subject=subject.id,
                     sha256=sha256, via=via, job=job)


# -- building one (the huey task) ---------------------------------------------------------------------
def _claim(rt: "Runtime", job_id: int) -> bool:
    base = root(rt)
    base.mkdir(parents=True, exist_ok=True)
    claim = base / f"{job_id}.claim"
    if (base / str(job_id) / "result.json").is_file() or (base / f"{job_id}.failed").is_file():
        return False
    try:
        fd = os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def run_subject_job(rt: "Runtime", job_id: int) -> str:
    """Build the package of one request; returns "done", "failed" or "skipped" (built, or being built)."""
    with rt.Session() as session:
        ev = _request_event(session, job_id)
        if ev is None or utcnow() - ev.at > KEEP_FOR:
            return "skipped"
        subject_id, requested_at = int(ev.object_id), ev.at
    if not _claim(rt, job_id):
        return "skipped"
    base = root(rt)
    folder, work = base / str(job_id), base / f"{job_id}.part"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    name = filename_for(subject_id, requested_at)
    try:
        with rt.Session() as session:  # reads only: a snapshot, nobody waits while Chromium prints
            package = write_subject_export(rt, session, session.get(User, subject_id), work / name)
            session.rollback()
        result = {"file": name, "sha256": package.sha256, "size": package.size, "files": package.files}
        (work / "result.json").write_text(json.dumps(result, sort_keys=True), "utf-8")
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(work, folder)
    except Exception as exc:  # noqa: BLE001 - recorded for HR's page and in the audit log
        shutil.rmtree(work, ignore_errors=True)
        log.exception("subject export %s failed", job_id)
        reason = f"{exc.code if isinstance(exc, DomainError) else type(exc).__name__}: {exc}"[:2000]
        (base / f"{job_id}.failed").write_text(reason, "utf-8")
        with uow.unit_of_work(rt) as session:
            audit.record(session, None, "subject.export_failed", "user", subject_id, job=job_id, error=reason)
        return "failed"
    finally:
        (base / f"{job_id}.claim").unlink(missing_ok=True)
    with uow.unit_of_work(rt) as session:
        audit.record(session, None, "subject.export_built", "user", subject_id, job=job_id, sha256=package.sha256,
                     size=package.size, files=package.files)
    return "done"


def sweep(rt: "Runtime") -> int:
    """Re-enqueue requests nobody picked up, remove expired packages; returns how many were re-enqueued."""
    now = utcnow()
    base = root(rt)
    on_disk = {int(p.name.split(".")[0]) for p in base.iterdir() if p.name.split(".")[0].isdigit()} \
        if base.is_dir() else set()
    with rt.Session() as session:
        recent = list(session.execute(select(AuditEvent).where(
            AuditEvent.action == REQUESTED, AuditEvent.at > now - KEEP_FOR)).scalars())
        again = [ev.id for ev in recent if job_state(rt, ev, now)[0] == "queued" and now - ev.at > REQUEUE_AFTER]
    for job_id in on_disk - {ev.id for ev in recent}:
        shutil.rmtree(base / str(job_id), ignore_errors=True)
        (base / f"{job_id}.failed").unlink(missing_ok=True)
    for job_id in again:
        rt.enqueue_subject_export(job_id)
    return len(again)
