"""API tokens: bearer secrets for the JSON API. Only a token's SHA-256 is stored; the secret is shown once.

A token reads ``vaern_`` followed by 43 URL-safe characters (256 random bits). It acts as its user,
with the same permissions as the pages; it stops working when revoked, when it expires (``expires_at``,
set at creation: ``api_token_days`` by default) or when the user is deactivated. ``last_used_at`` shows
administrators which tokens are still in use. Issuing, listing and revoking are administration
(``require_admin``: an administrator, or ``None`` for the operator at the shell).
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import ApiToken, User
from storage.types import utcnow
from tracker.accounts.permissions import require_admin
from tracker.oversight import audit
from tracker.errors import DomainError, NotFound

PREFIX = "vaern_"
TOKEN_PATTERN = re.compile(r"^vaern_[A-Za-z0-9_-]{43}$")
MAX_NAME_LENGTH = 100
MAX_DAYS = 730


def token_sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def _user_by_email(session: Session, email: str) -> User:
    email = (email or "").strip().lower()
    user = session.execute(select(User).where(func.lower(User.email) == email)).scalar()
    if user is None:
        raise DomainError("user_unknown", f"no user with e-mail {email!r}", "email")
    return user


def create_token(session: Session, user: User, name: str = "", actor: User | None = None, *,
                 days: int = 90) -> tuple[ApiToken, str]:
    """Issue a token for an active ``user``, valid for ``days``; returns the row and the secret (shown once)."""
    name = (name or "").strip()
    if not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise DomainError("token_days", f"a token is valid for 1 to {MAX_DAYS} days", "days")
    if len(name) > MAX_NAME_LENGTH:
        raise DomainError("token_name_too_long", f"the token name is longer than {MAX_NAME_LENGTH} characters", "name")
    if not user.active:
        raise DomainError("user_inactive", f"user {user.email} is not active", "email")
    secret = PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    row = ApiToken(user_id=user.id, name=name, token_sha256=token_sha256(secret), created_at=now,
                   expires_at=now + timedelta(days=days))
    session.add(row)
    session.flush()
    audit.record(session, actor, "token.create", "api_token", row.id, user_id=user.id, name=name or None,
                 expires_at=row.expires_at.isoformat())
    return row, secret


def create_token_for_email(session: Session, email: str, name: str = "",
                           actor: User | None = None, *, days: int = 90) -> tuple[ApiToken, str]:
    """``create_token`` for the user with this e-mail; DomainError ``user_unknown`` if there is none."""
    require_admin(actor)
    return create_token(session, _user_by_email(session, email), name, actor, days=days)


def token_state(row: ApiToken, now: datetime | None = None) -> str:
    """``live``, ``revoked`` or ``expired``."""
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= (now or utcnow()):
        return "expired"
    return "live"


def list_tokens(session: Session, user: User, viewer: User | None = None) -> list[ApiToken]:
    """The user's tokens, newest first (revoked and expired ones too: they are part of the record)."""
    require_admin(viewer)
    return list(session.execute(select(ApiToken).where(ApiToken.user_id == user.id)
                                .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())).scalars())


def list_tokens_for_email(session: Session, email: str, viewer: User | None = None) -> list[ApiToken]:
    return list_tokens(session, _user_by_email(session, email), viewer)


def revoke_token(session: Session, row: ApiToken, actor: User | None = None) -> bool:
    """Revoke one token; False if it was revoked already."""
    if row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    session.flush()
    audit.record(session, actor, "token.revoke", "api_token", row.id, user_id=row.user_id, name=row.name or None)
    return True


def revoke_user_token(session: Session, actor: User | None, user_id: int, token_id: int) -> tuple[ApiToken, bool]:
    """Revoke token ``token_id`` of user ``user_id`` (NotFound if it is not theirs); the bool: revoked now."""
    require_admin(actor)
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != user_id:
        raise NotFound(f"token {token_id}")
    return row, revoke_token(session, row, actor)


def revoke_tokens_for_email(session: Session, email: str, name: str | None = None,
                            actor: User | None = None) -> int:
    """Revoke the user's live tokens (only those called ``name`` if given); returns how many."""
    require_admin(actor)
    user = _user_by_email(session, email)
    q = select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    if name is not None:
        q = q.where(ApiToken.name == name.strip())
    rows = list(session.execute(q.order_by(ApiToken.id)).scalars())
    now = utcnow()
    for row in rows:
        row.revoked_at = now
        audit.record(session, actor, "token.revoke", "api_token", row.id, user_id=user.id, name=row.name or None)
    session.flush()
    return len(rows)


def authenticate_token(session: Session, secret: str) -> tuple[User, ApiToken] | None:
    """The active user and live token for ``secret``, marking it used; None for anything else."""
    if not TOKEN_PATTERN.match(secret or ""):
        return None
    digest = token_sha256(secret)
    row = session.execute(select(ApiToken).where(ApiToken.token_sha256 == digest)).scalar()
    # the lookup is by digest, so timing tells nothing of the secret; compare in constant time anyway
    if row is None or not hmac.compare_digest(row.token_sha256, digest) or token_state(row) != "live":
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    row.last_used_at = utcnow()
    session.flush()
    return user, row
