"""Work a transaction asks for once it commits: a capture or an export to enqueue, leaders to tell of a new case.

The rules only note the wish in the session; ``tracker.adapters`` binds SQLAlchemy's ``after_commit`` to
act on it (huey, SMTP); ``tracker.uow.defer`` forgets it on a rollback, also of a savepoint. So the
domain imports neither the queue nor the mail code, and nothing is enqueued for a row a worker cannot
see yet or that was rolled back.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from tracker import uow

CAPTURES = "vaern_pending_captures"
CASES_OPENED = "vaern_pending_case_notifications"
EXPORTS = "vaern_pending_exports"
CASE_LOCKS = "vaern_pending_case_locks"
SUBJECT_EXPORTS = "vaern_pending_subject_exports"


def _note(session: Session, key: str, item_id: int) -> None:
    uow.defer(session, key, item_id)  # savepoint-aware: forgotten with a rolled-back savepoint


def capture(session: Session, evidence_id: int) -> None:
    """Enqueue the capture of ``evidence_id`` once the row is committed (a worker must be able to see it)."""
    _note(session, CAPTURES, evidence_id)


def case_opened(session: Session, case_id: int) -> None:
    """Have the unit's leaders told about the case once the transaction commits (never for a rollback)."""
    _note(session, CASES_OPENED, case_id)


def export(session: Session, job_id: int) -> None:
    """Enqueue the export job once it is committed."""
    _note(session, EXPORTS, job_id)


def subject_export(session: Session, job_id: int) -> None:
    """Enqueue the build of an access package (tracker.packaging.subject_jobs) once its request is committed."""
    _note(session, SUBJECT_EXPORTS, job_id)


def case_locks(session: Session, case_id: int) -> None:
    """Have the case's blobs' object lock extended to its retention's end once the close is committed
    (tracker.integrity.objectlock; a job, so no S3 call runs inside the request)."""
    _note(session, CASE_LOCKS, case_id)


def take(session: Session, key: str) -> list[int]:
    """The ids noted under ``key`` (removed from the session)."""
    return session.info.pop(key, [])
