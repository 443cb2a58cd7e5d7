"""Org units and users: creation, password hashing (argon2id), authentication, ending sessions.

A user's ``session_generation`` is part of every login session (``webui.auth``); raising it
(``end_sessions``) ends all of that user's sessions at once, on every device.
"""
from __future__ import annotations

import secrets
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import OrgUnit, Role, User
from storage.types import utcnow
from tracker.oversight import audit
from tracker.errors import DomainError
from tracker.accounts.passwords import check_password

_hasher = PasswordHasher()
#: verified against when the e-mail is unknown, so both failures take the same time
_DUMMY_HASH = _hasher.hash("vaern-dummy-password")

#: letters and digits that cannot be mistaken for one another when read aloud or copied by hand
_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def generate_password(groups: int = 4, size: int = 4) -> str:
    """A random initial password such as ``k7vq-2mxe-…`` (16 characters: about 79 bits)."""
    return "-".join("".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(size)) for _ in range(groups))


def generate_password_for(role: Role | str, email: str = "", name: str = "") -> str:
    """A generated password that passes the policy for this person (a random one nearly always does)."""
    for _ in range(20):
        password = generate_password()
        try:
            check_password(password, role=role, email=email, name=name)
        except DomainError:
            continue
        return password
    raise RuntimeError("no generated password passed the password policy")  # pragma: no cover


def password_hash_scheme() -> str:
    """How passwords are stored, read from the hasher in use (e.g. for the record of processing)."""
    params = _hasher  # argon2-cffi's PasswordHasher; its type is argon2id unless told otherwise
    return (f"argon2{params.type.name.lower()} (argon2-cffi: time_cost={params.time_cost}, "
            f"memory_cost={params.memory_cost} KiB, parallelism={params.parallelism})")


def hash_password(password: str, user: User) -> str:
    """The argon2id hash of ``password`` for ``user``; DomainError (tracker.accounts.passwords codes) if refused."""
    check_password(password, role=user.role, email=user.email, name=user.name)
    return _hasher.hash(password)


def set_password(session: Session, user: User, password: str, actor: User | None = None,
                 action: str = "user.password_set") -> None:
    """Give ``user`` this password (checked by the policy); every session of the user ends.

    Refused (``sso_account``) for a person who signs in through the identity provider: a password would let
    them in after the provider took their role away."""
    if user.oidc_subject:
        raise DomainError("sso_account", "this user signs in with single sign-on and has no password in Værn")
    user.password_hash = hash_password(password, user)
    end_sessions(user)
    session.flush()
    audit.record(session, actor, action, "user", user.id, email=user.email)


def end_sessions(user: User) -> None:
    """End every login session of ``user`` (the caller flushes/commits)."""
    user.session_generation = (user.session_generation or 0) + 1


def record_login(user: User) -> tuple[int, datetime | None]:
    """A successful login: returns (wrong passwords since the last login, when the last one was), then resets."""
    told = (user.failed_logins or 0, user.last_failed_login_at)
    user.failed_logins, user.last_failed_login_at, user.last_login_at = 0, None, utcnow()
    return told


def record_failed_login(session: Session, email: str) -> None:
    """Count a wrong password for the user with this e-mail (if any), to tell them at their next login."""
    user = find_user_by_email(session, email)
    if user is not None:
        user.failed_logins = (user.failed_logins or 0) + 1
        user.last_failed_login_at = utcnow()


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
    if not name.strip() or len(name.strip()) > 200:
        raise DomainError("name", "a user needs a name of 1 to 200 characters", "name")
    if role in (Role.employee, Role.leader, Role.amr) and unit is None:
        raise DomainError("unit_required", f"a user with role {role.value} must belong to a unit")
    if session.execute(select(User).where(func.lower(User.email) == email)).scalar():
        raise DomainError("user_exists", f"a user with e-mail {email} exists already")
    check_password(password, role=role, email=email, name=name)
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
