"""Org units and users: creation, password hashing (argon2id), authentication."""
from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import OrgUnit, Role, User
from tracker import audit
from tracker.errors import DomainError

_hasher = PasswordHasher()
#: verified against when the e-mail is unknown, so both failures take the same time
_DUMMY_HASH = _hasher.hash("vaern-dummy-password")

MIN_PASSWORD_LENGTH = 10
#: letters and digits that cannot be mistaken for one another when read aloud or copied by hand
_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def generate_password(groups: int = 4, size: int = 4) -> str:
    """A random initial password such as ``k7vq-2mxe-…`` (16 characters: about 79 bits)."""
    return "-".join("".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(size)) for _ in range(groups))


def hash_password(password: str) -> str:
    """The argon2id hash of ``password``; DomainError("password") if it is too short."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError("password", f"the password must have at least {MIN_PASSWORD_LENGTH} characters", "password")
    return _hasher.hash(password)


def find_user_by_email(session: Session, email: str) -> User | None:
    """The user with this e-mail address, compared without regard to case."""
    return session.execute(select(User).where(func.lower(User.email) == email.strip().lower())).scalar()


def add_unit(session: Session, name: str, actor: User | None = None) -> OrgUnit:
    name = name.strip()
    if not name or len(name) > 200:
        raise DomainError("unit_name", "a unit needs a name of 1 to 200 characters")
    if session.execute(select(OrgUnit).where(OrgUnit.name == name)).scalar():
        raise DomainError("unit_exists", f"unit {name!r} exists already")
    unit = OrgUnit(name=name)
    session.add(unit)
    session.flush()
    audit.record(session, actor, "unit.create", "unit", unit.id, name=name)
    return unit


def find_unit(session: Session, name: str) -> OrgUnit | None:
    return session.execute(select(OrgUnit).where(OrgUnit.name == name.strip())).scalar()


def add_user(session: Session, *, email: str, name: str, role: Role | str, password: str,
             unit: OrgUnit | None, actor: User | None = None) -> User:
    """Create a user; employees, leaders and AMR must belong to a unit."""
    role = Role(role)
    email = email.strip().lower()
    if "@" not in email or len(email) > 320:
        raise DomainError("email", f"{email!r} is not an e-mail address")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError("password", f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if not name.strip() or len(name.strip()) > 200:
        raise DomainError("name", "a user needs a name of 1 to 200 characters", "name")
    if role in (Role.employee, Role.leader, Role.amr) and unit is None:
        raise DomainError("unit_required", f"a user with role {role.value} must belong to a unit")
    if session.execute(select(User).where(func.lower(User.email) == email)).scalar():
        raise DomainError("user_exists", f"a user with e-mail {email} exists already")
    user = User(email=email, name=name.strip(), role=role, unit=unit, password_hash=_hasher.hash(password))
    session.add(user)
    session.flush()
    audit.record(session, actor, "user.create", "user", user.id, email=email, role=role.value,
                 unit=unit.name if unit else None)
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with this e-mail and password, or None (same work either way)."""
    user = session.execute(select(User).where(func.lower(User.email) == email.strip().lower())).scalar()
    candidate = user.password_hash if user is not None and user.active else _DUMMY_HASH
    try:
        _hasher.verify(candidate, password)
    except (VerificationError, InvalidHashError):
        return None
    return user if user is not None and user.active else None
