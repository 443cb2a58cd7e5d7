"""A case's category and its life: open → closed (with a reason) → reopened if it flares up again.

The category is the guideline's definitions (DOMAIN.md "Definitions"); statistics for MED and HR's
search count by it. Closing keeps everything: nothing of a closed case is deleted or changed.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from storage.models import Case, User
from storage.types import utcnow
from tracker import after_commit
from tracker.oversight import audit
from tracker.cases import casefacts
from tracker.errors import DomainError
from tracker.workflow.steps import _require, can_manage_case

#: the guideline's three kinds of digital harassment, in the order the guideline defines them
CATEGORIES = ("digital_threat", "digital_bullying", "digital_harassment")
CLOSE_NOTE_MAX = 4000


def set_category(session: Session, case: Case, actor: User, category: str | None) -> bool:
    """Set (or clear, with None) the case's category; returns whether it changed."""
    _require(can_manage_case(actor, case), actor, case)
    if category is not None and category not in CATEGORIES:
        raise DomainError("bad_category", f"unknown category {category!r}", "category")
    if case.category == category:
        return False
    facts = casefacts.snapshot(case)
    before, case.category = case.category, category
    session.flush()
    audit.record(session, actor, "case.category", "case", case.ref, case.id, before=before, after=category,
                 facts_sha256=casefacts.changed(facts, case))
    return True


def close_case(session: Session, case: Case, actor: User, note: str) -> None:
    """Close the case with the leader's reason (e.g. 'removed and followed up'); deadlines stop nagging."""
    _require(can_manage_case(actor, case), actor, case)
    note = (note or "").strip()
    if not note:
        raise DomainError("close_note_empty", "say why the case is closed", "note")
    if len(note) > CLOSE_NOTE_MAX:
        raise DomainError("too_long", "the note is too long", "note")
    if case.status == "closed":
        raise DomainError("already_closed", "the case is already closed")
    facts = casefacts.snapshot(case)
    case.status, case.closed_at = "closed", utcnow()
    session.flush()
    audit.record(session, actor, "case.close", "case", case.ref, case.id, note=note,
                 facts_sha256=casefacts.changed(facts, case))
    after_commit.case_locks(session, case.id)  # the object lock follows the retention clock (S3)


def reopen_case(session: Session, case: Case, actor: User, note: str) -> None:
    """Reopen a closed case (the harassment started again); the close is kept in the audit log."""
    _require(can_manage_case(actor, case), actor, case)
    note = (note or "").strip()
    if not note:
        raise DomainError("reopen_note_empty", "say why the case is reopened", "note")
    if case.status != "closed":
        raise DomainError("not_closed", "the case is open")
    facts = casefacts.snapshot(case)
    case.status, case.closed_at = "open", None
    session.flush()
    audit.record(session, actor, "case.reopen", "case", case.ref, case.id, note=note[:CLOSE_NOTE_MAX],
                 facts_sha256=casefacts.changed(facts, case))
