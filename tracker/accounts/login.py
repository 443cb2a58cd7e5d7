"""Logging in, out and changing one's own password: the throttle, the counters and the audit in one place.

The web layer only keeps the cookie session (``webui.auth``). Each function returns what happened rather
than raising for a refusal that must be kept (a wrong password is counted and audited, so the caller
commits it like a success); only a new password the policy refuses raises DomainError (nothing to keep).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from storage.models import User
from tracker.accounts import throttle
from tracker.accounts.users import authenticate, end_sessions, record_failed_login, record_login, set_password
from tracker.oversight import audit


@dataclass(frozen=True)
class Limits:
    """Wrong attempts allowed before the delays start (settings ``login_free_attempts*``)."""

    per_account: int
    per_address: int


@dataclass(frozen=True)
class Login:
    """The outcome: ``user`` when logged in; ``wait`` seconds when throttled (nothing was checked)."""

    user: User | None = None
    wait: int = 0
    failed_since_last: int = 0  #: wrong passwords for this account since its last login
    last_failed_at: datetime | None = None


def _wait(session: Session, email: str, address: str, limits: Limits) -> int:
    return throttle.wait_seconds(session, email, address, free_per_account=limits.per_account,
                                 free_per_address=limits.per_address)


def log_in(session: Session, email: str, password: str, address: str, limits: Limits) -> Login:
    """Check the password (unless throttled); count and audit a failure, reset the counters on success."""
    email = email.strip().lower()[:320]
    wait = _wait(session, email, address, limits)
    if wait:
        return Login(wait=wait)
    user = authenticate(session, email, password)
    if user is None:
        throttle.record_failure(session, email, address)
        record_failed_login(session, email)
        audit.record(session, None, "auth.login_failed", "user", "-", email=email)
        return Login()
    failed, last_failed = record_login(user)
    throttle.record_success(session, email, address)
    audit.record(session, user, "auth.login", "user", user.id, **({"failed_since_last": failed} if failed else {}))
    return Login(user=user, failed_since_last=failed, last_failed_at=last_failed)


def log_out(session: Session, user: User) -> None:
    """End every session of ``user``, on every device."""
    end_sessions(user)
    audit.record(session, user, "auth.logout", "user", user.id)


@dataclass(frozen=True)
class PasswordChange:
    """``refused``: None (changed), ``throttled`` (wait ``wait`` seconds), ``wrong_current`` or ``mismatch``."""

    refused: str | None = None
    wait: int = 0


def change_password(session: Session, user: User, *, current: str, new: str, repeat: str, address: str,
                    limits: Limits) -> PasswordChange:
    """Change one's own password: the current one is checked (throttled like a login) and every session
    ends. A new password the policy refuses raises DomainError (``tracker.accounts.passwords`` codes)."""
    wait = _wait(session, user.email, address, limits)
    if wait:
        return PasswordChange("throttled", wait)
    if authenticate(session, user.email, current) is None:
        throttle.record_failure(session, user.email, address)
        audit.record(session, user, "auth.password_change_refused", "user", user.id, reason="current_password")
        return PasswordChange("wrong_current")
    if new != repeat:
        return PasswordChange("mismatch")
    set_password(session, user, new, actor=user, action="user.password_change")
    return PasswordChange()
