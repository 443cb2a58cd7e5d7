"""Administration: users, units and the municipality's own copies of the rule files — never case content.

Every change is an audit event naming the actor, the object and each changed field before and after
(never a password or its hash). Every function checks that its actor is an administrator (``None``: the
operator at the shell, i.e. the ``vaern`` command); pages and CLI call the same functions. Operations only
flush; the caller owns the transaction.
The rule files are ``tracker.accounts.rule_files``.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import OrgUnit, Role, User
from tracker.oversight import audit
from tracker.errors import DomainError, NotFound
from tracker.accounts.permissions import require_admin
from tracker.accounts.rule_files import rule_files
from tracker.accounts.users import (add_unit, add_user, end_sessions, find_unit, find_user_by_email, generate_password_for,
                                    set_password)

PAGE_SIZE = 50
NEEDS_UNIT = frozenset({Role.employee, Role.leader, Role.amr})
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


# -- users ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class UserPage:
    """One page of the user list."""

    users: list[User]
    total: int
    page: int
    pages: int


@dataclass(frozen=True)
class Overview:
    """The administration's front page: active users, units, rule files replaced by the municipality."""

    users: int
    units: int
    overridden: int


def overview(session: Session, actor: User | None, override_dir: Path) -> Overview:
    require_admin(actor)
    users = session.execute(select(func.count()).select_from(User).where(User.active.is_(True))).scalar_one()
    units = session.execute(select(func.count()).select_from(OrgUnit)).scalar_one()
    return Overview(users, units, sum(1 for f in rule_files() if f.override(override_dir).is_file()))


def list_users(session: Session, *, unit_id: int | None = None, role: Role | None = None,
               active: bool | None = None, page: int = 1, per_page: int = PAGE_SIZE,
               viewer: User | None = None) -> UserPage:
    """Users by name, filtered by unit, role and active state; ``page`` is clamped to the pages there are."""
    require_admin(viewer)
    q = select(User)
    if unit_id is not None:
        q = q.where(User.unit_id == unit_id)
    if role is not None:
        q = q.where(User.role == role)
    if active is not None:
        q = q.where(User.active.is_(active))
    total = session.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    rows = session.execute(q.order_by(func.lower(User.name), User.id).offset((page - 1) * per_page)
                           .limit(per_page)).scalars()
    return UserPage(list(rows), total, page, pages)


def get_user(session: Session, user_id: int, viewer: User | None = None) -> User:
    require_admin(viewer)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id}")
    return user


def get_unit(session: Session, unit_id: int, viewer: User | None = None) -> OrgUnit:
    require_admin(viewer)
    unit = session.get(OrgUnit, unit_id)
    if unit is None:
        raise NotFound(f"unit {unit_id}")
    return unit


def _unit_or_none(session: Session, unit_id: int | None) -> OrgUnit | None:
    if unit_id is None:
        return None
    unit = session.get(OrgUnit, unit_id)
    if unit is None:
        raise DomainError("unit_unknown", f"no unit with id {unit_id}", "unit")
    return unit


def unit_id_named(session: Session, name: str) -> int:
    """The id of the unit called ``name`` (the CLI names units); DomainError ``unit_unknown`` if none is."""
    unit = find_unit(session, name)
    if unit is None:
        raise DomainError("unit_unknown", f"no unit named {name!r} (add it with `vaern unit add`)", "unit")
    return unit.id


def create_user(session: Session, actor: User | None, *, email: str, name: str, role: Role | str,
                unit_id: int | None, password: str | None = None) -> tuple[User, str | None]:
    """A new active user; with ``password`` None one is generated and returned (shown once, never stored)."""
    require_admin(actor)
    try:
        role = Role(role)
    except ValueError:
        raise DomainError("role", f"unknown role {role!r}", "role") from None
    if not _EMAIL_RE.match(email.strip()):
        raise DomainError("email", f"{email!r} is not an e-mail address", "email")
    generated = None
    if password is None:
        password = generated = generate_password_for(role, email, name)
    user = add_user(session, email=email, name=name, role=role, password=password,
                    unit=_unit_or_none(session, unit_id), actor=actor)
    return user, generated


def _active_admins(session: Session) -> int:
    return session.execute(select(func.count()).select_from(User)
                           .where(User.role == Role.admin, User.active.is_(True))).scalar_one()


def update_user(session: Session, actor: User | None, user: User, *, name: str, role: Role | str,
                unit_id: int | None, active: bool) -> dict[str, list]:
    """Change name, role, unit and active state; returns {field: [before, after]} of what changed.

    Refuses to leave Værn without an active administrator (``last_admin``) and a role that needs a unit
    without one (``unit_required``). Users are never deleted: audit events refer to them.
    """
    require_admin(actor)
    try:
        role = Role(role)
    except ValueError:
        raise DomainError("role", f"unknown role {role!r}", "role") from None
    name = name.strip()
    if not name or len(name) > 200:
        raise DomainError("name", "a user needs a name of 1 to 200 characters", "name")
    unit = _unit_or_none(session, unit_id)
    if role in NEEDS_UNIT and unit is None:
        raise DomainError("unit_required", f"a user with role {role.value} must belong to a unit", "unit")
    was_admin = user.role is Role.admin and user.active
    stays_admin = role is Role.admin and active
    if was_admin and not stays_admin and _active_admins(session) <= 1:
        raise DomainError("last_admin", "Værn must keep at least one active administrator", "role")
    before = {"name": user.name, "role": user.role.value, "unit": user.unit.name if user.unit else None,
              "active": user.active}
    after = {"name": name, "role": role.value, "unit": unit.name if unit else None, "active": active}
    changes = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
    if not changes:
        return {}
    user.name, user.role, user.unit, user.active = name, role, unit, active
    if changes.keys() & {"role", "unit", "active"}:
        end_sessions(user)  # what the user may see changed: they log in again under the new rights
    session.flush()
    audit.record(session, actor, "user.update", "user", user.id, email=user.email, changes=changes)
    return changes


def reset_password(session: Session, actor: User | None, user: User) -> str:
    """Give ``user`` a new generated password and return it (to be shown once); the old one stops working
    and every session of the user ends."""
    require_admin(actor)
    password = generate_password_for(user.role, user.email, user.name)
    set_password(session, user, password, actor, action="user.password_reset")
    return password


def set_password_of(session: Session, actor: User | None, email: str, password: str) -> User:
    """Give the user with this e-mail the chosen ``password`` (checked by the policy); their sessions end."""
    require_admin(actor)
    user = find_user_by_email(session, email)
    if user is None:
        raise DomainError("user_unknown", f"no user with e-mail {email.strip().lower()!r}", "email")
    set_password(session, user, password, actor, action="user.password_set")
    return user


# -- units ----------------------------------------------------------------------------------------
def list_units(session: Session, viewer: User | None = None) -> list[tuple[OrgUnit, int]]:
    """Every unit by name with the number of its active users."""
    require_admin(viewer)
    counts = dict(session.execute(select(User.unit_id, func.count()).where(User.active.is_(True))
                                  .group_by(User.unit_id)).all())
    units = session.execute(select(OrgUnit).order_by(func.lower(OrgUnit.name))).scalars()
    return [(u, counts.get(u.id, 0)) for u in units]


def create_unit(session: Session, actor: User | None, name: str) -> OrgUnit:
    require_admin(actor)
    return add_unit(session, name, actor=actor)


def rename_unit(session: Session, actor: User | None, unit: OrgUnit, name: str) -> bool:
    """Rename ``unit``; False if the name is unchanged. DomainError for an empty or taken name."""
    require_admin(actor)
    name = name.strip()
    if not name or len(name) > 200:
        raise DomainError("unit_name", "a unit needs a name of 1 to 200 characters", "name")
    if name == unit.name:
        return False
    taken = session.execute(select(OrgUnit).where(func.lower(OrgUnit.name) == name.lower(),
                                                  OrgUnit.id != unit.id)).scalar()
    if taken is not None:
        raise DomainError("unit_exists", f"unit {name!r} exists already", "name")
    before = unit.name
    unit.name = name
    session.flush()
    audit.record(session, actor, "unit.rename", "unit", unit.id, changes={"name": [before, name]})
    return True


def email_taken(session: Session, email: str) -> bool:
    return find_user_by_email(session, email) is not None
