"""Legal hold (issue 16): a case under a hold is never erased by retention, whatever its rules say.

GDPR art. 17(3)(b) and (e): data needed for a legal obligation or a legal claim (a court case, a police
investigation, a complaint) is kept. HR and the administrator place and release a hold on the case page; the
command line (`vaern case hold`) acts as the operator. Both are audit events; the case page shows the hold.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from storage.models import Case, Role, User
from storage.types import utcnow
from tracker.errors import DomainError
from tracker.oversight import audit
from tracker.accounts.permissions import can_view_case

HOLD_REASON_MAX = 2000
#: who may place or release a hold on the case page (besides the command line)
HOLD_ROLES = (Role.hr, Role.admin)


def can_hold(user: User | None, case: Case) -> bool:
    """HR (who sees every case) and the administrator (who reads no case content, so acts by reference, e.g.
    from the command line); None is the command line's operator."""
    if user is None:
        return True
    return user.active and (user.role is Role.admin or (user.role in HOLD_ROLES and can_view_case(user, case)))


def _require(user: User | None, case: Case) -> None:
    if not can_hold(user, case):
        raise DomainError("not_allowed", "only HR or an administrator may place or release a legal hold")


def hold_case(session: Session, case: Case, actor: User | None, reason: str) -> None:
    """Place a legal hold: retention erases nothing of the case until it is released."""
    _require(actor, case)
    reason = " ".join((reason or "").split())
    if not reason:
        raise DomainError("hold_reason_empty", "say why the case is held (e.g. the court case)", "reason")
    if len(reason) > HOLD_REASON_MAX:
        raise DomainError("too_long", "the reason is too long", "reason")
    if case.erased_at is not None:
        raise DomainError("case_erased", "the case was erased by retention; there is nothing left to hold")
    if case.hold_at is not None:
        raise DomainError("already_held", "the case is held already")
    case.hold_reason, case.hold_at, case.hold_by_id = reason, utcnow(), actor.id if actor else None
    session.flush()
    audit.record(session, actor, "case.hold", "case", case.ref, case.id, reason=reason)


def release_case(session: Session, case: Case, actor: User | None) -> None:
    """Release the hold: the retention rules apply to the case again (from its next run)."""
    _require(actor, case)
    if case.hold_at is None:
        raise DomainError("not_held", "the case is not held")
    held_since = case.hold_at
    case.hold_reason, case.hold_at, case.hold_by_id = None, None, None
    session.flush()
    audit.record(session, actor, "case.release", "case", case.ref, case.id, held_since=held_since.isoformat())
