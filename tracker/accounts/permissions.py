"""Who may see which case: the one policy every route and API call goes through.

A case a user may not see is reported as NotFound, never as forbidden (no confirmation it exists).
"""
from __future__ import annotations

from sqlalchemy import Select, or_, select

from storage.models import Case, Role, User
from tracker.errors import NotFound


def can_view_case(user: User, case: Case) -> bool:
    if user.role is Role.hr:
        return True
    if user.role in (Role.leader, Role.amr):
        return user.unit_id is not None and case.unit_id == user.unit_id
    if user.role is Role.employee:
        return case.employee_id == user.id or case.reported_by_id == user.id
    return False  # admin manages users and units but does not read case content


def can_report(user: User) -> bool:
    """Anyone in a unit may report harassment (their own, or a colleague's they spotted)."""
    return user.unit_id is not None and user.role in (Role.employee, Role.leader, Role.amr)


def visible_cases(user: User) -> Select[tuple[Case]]:
    """A query of the cases ``user`` may see (same rule as can_view_case)."""
    q = select(Case)
    if user.role is Role.hr:
        return q
    if user.role in (Role.leader, Role.amr):
        return q.where(Case.unit_id == (user.unit_id if user.unit_id is not None else -1))
    if user.role is Role.employee:
        return q.where(or_(Case.employee_id == user.id, Case.reported_by_id == user.id))
    return q.where(Case.id == -1)


def require_admin(actor: User | None) -> None:
    """Administration is for administrators; to anyone else it does not exist (NotFound).

    ``None`` is the operator at the shell (the ``vaern`` command): whoever runs it administers the installation.
    """
    if actor is not None and actor.role is not Role.admin:
        raise NotFound("administration")


def require_role(actor: User, *roles: Role) -> None:
    """A page or export only these roles have: NotFound for anyone else (its existence is not confirmed)."""
    if actor is None or actor.role not in roles:
        raise NotFound("page")
