"""Single sign-on with the municipality's identity provider (OpenID Connect): who the person is and what they may.

The web layer (``webui.sso``) runs the authorization code flow with PKCE and hands over the ID token's claims
only after it has checked issuer, audience, nonce, signature (the provider's JWKS) and expiry. Here:

- people are matched by (issuer, ``sub``) — never by e-mail, which the person or a guest tenant may set;
- the role claim (``VAERN_OIDC_ROLE_CLAIM``: a list or one value, a dotted path for nested claims) is read
  through the role map (``VAERN_OIDC_ROLE_MAP``); the first entry of the map that matches any value wins;
- no match: no account (an existing one keeps no session); a match: the account is created or updated just in
  time with name, e-mail, role and unit, and a changed role or unit ends its older sessions;
- every sign-in, refusal and failed check is an audit event, like the password login's.

An account made here has no password: its ``password_hash`` is a value no password matches.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import AuditEvent, Role, User
from storage.types import utcnow
from tracker.accounts.permissions import require_admin
from tracker.accounts.users import end_sessions, find_unit, record_login
from tracker.oversight import audit
from tracker.settings import RoleMapping

#: stored instead of a password hash: argon2 refuses it as a hash, so no password ever matches
NO_PASSWORD = "!sso"
#: why a sign-in was refused (the web layer words each one)
NO_ROLE, UNIT_MISSING, EMAIL_TAKEN, NO_EMAIL, INACTIVE = "no_role", "unit_missing", "email_taken", "no_email", "inactive"


@dataclass(frozen=True)
class Provider:
    """What the sign-in needs from the settings: the issuer, the role claim and the role map."""

    issuer: str
    role_claim: str
    role_map: tuple[RoleMapping, ...]


@dataclass(frozen=True)
class SignIn:
    """The outcome: ``user`` when signed in; else ``refused`` (one of the codes above) and ``unit`` if missing."""

    user: User | None = None
    refused: str | None = None
    unit: str | None = None
    ended_sessions: bool = False  #: the role or unit changed: the person's older sessions ended


def claim_values(claims: dict, path: str) -> list[str]:
    """The values of the (dotted) claim ``path``: a list of strings or one string; anything else counts as none."""
    value: object = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return []
        value = value.get(part)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def mapped_role(values: list[str], role_map: tuple[RoleMapping, ...] | list[RoleMapping]) -> RoleMapping | None:
    """The first entry of the map whose claim value the person has, or None."""
    have = set(values)
    return next((m for m in role_map if m.value in have), None)


def _email(claims: dict) -> str | None:
    for key in ("email", "preferred_username", "upn"):
        value = claims.get(key)
        if isinstance(value, str) and "@" in value and len(value) <= 320:
            return value.strip().lower()
    return None


def _name(claims: dict, email: str) -> str:
    name = claims.get("name")
    if not isinstance(name, str) or not name.strip():
        parts = [claims.get(k) for k in ("given_name", "family_name")]
        name = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
    return (name or email).strip()[:200]


def _refuse(session: Session, provider: Provider, claims: dict, reason: str, user: User | None = None,
            **details: object) -> None:
    audit.record(session, user, "auth.sso_refused", "user", user.id if user else "-", reason=reason,
                 issuer=provider.issuer, subject=str(claims.get("sub", ""))[:255], email=_email(claims), **details)


def sign_in(session: Session, provider: Provider, claims: dict) -> SignIn:
    """Sign in the person of these (already validated) ID-token claims; create or update their account."""
    subject = str(claims["sub"])[:255]
    user = session.execute(select(User).where(User.oidc_issuer == provider.issuer,
                                              User.oidc_subject == subject)).scalar()
    entry = mapped_role(claim_values(claims, provider.role_claim), provider.role_map)
    if entry is None:
        if user is not None:
            end_sessions(user)  # the provider took the role away: no session of theirs goes on
        _refuse(session, provider, claims, NO_ROLE, user)
        return SignIn(refused=NO_ROLE, ended_sessions=user is not None)
    unit = find_unit(session, entry.unit) if entry.unit else None
    if entry.unit and unit is None:
        _refuse(session, provider, claims, UNIT_MISSING, user, unit=entry.unit)
        return SignIn(refused=UNIT_MISSING, unit=entry.unit)
    email = _email(claims)
    if email is None:
        _refuse(session, provider, claims, NO_EMAIL, user)
        return SignIn(refused=NO_EMAIL)
    other = session.execute(select(User).where(func.lower(User.email) == email)).scalar()
    if other is not None and other is not user:
        # never taken over by e-mail: the address may be set by the person or a guest tenant
        _refuse(session, provider, claims, EMAIL_TAKEN, user)
        return SignIn(refused=EMAIL_TAKEN)
    name, role = _name(claims, email), Role(entry.role)
    ended = False
    if user is None:
        user = User(email=email, name=name, role=role, unit=unit, password_hash=NO_PASSWORD,
                    oidc_issuer=provider.issuer, oidc_subject=subject)
        session.add(user)
        session.flush()
        audit.record(session, None, "user.create", "user", user.id, email=email, role=role.value,
                     unit=unit.name if unit else None, via="sso")
    else:
        if not user.active:  # an administrator deactivated the account: the provider does not undo that
            _refuse(session, provider, claims, INACTIVE, user)
            return SignIn(refused=INACTIVE)
        before = {"name": user.name, "email": user.email, "role": user.role.value,
                  "unit": user.unit.name if user.unit else None}
        after = {"name": name, "email": email, "role": role.value, "unit": unit.name if unit else None}
        changes = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
        if changes:
            user.name, user.email, user.role, user.unit = name, email, role, unit
            if changes.keys() & {"role", "unit"}:
                end_sessions(user)  # what the person may see changed: sessions under the old rights end
                ended = True
            session.flush()
            audit.record(session, None, "user.update", "user", user.id, email=user.email, changes=changes,
                         via="sso")
    failed, _last = record_login(user)
    audit.record(session, user, "auth.login", "user", user.id, via="sso",
                 **({"failed_since_last": failed} if failed else {}))
    return SignIn(user=user, ended_sessions=ended)


def record_failure(session: Session, issuer: str, reason: str) -> None:
    """A sign-in whose answer from the provider failed a check (or that the person or provider broke off)."""
    audit.record(session, None, "auth.sso_failed", "user", "-", issuer=issuer, reason=reason[:300])


@dataclass(frozen=True)
class Overview:
    """What the administrators' SSO page shows besides the settings: the map with its units, and the use."""

    mapping: list[tuple[RoleMapping, bool]]  #: each entry and whether its unit exists (True for HR/admin)
    accounts: int  #: active accounts of this provider
    last_sign_in: datetime | None
    refused_30_days: int  #: sign-ins refused (no role, unknown unit …) in the last 30 days


def overview(session: Session, actor: User | None, provider: Provider) -> Overview:
    require_admin(actor)
    mapping = [(m, m.unit is None or find_unit(session, m.unit) is not None) for m in provider.role_map]
    accounts = session.execute(select(func.count()).select_from(User).where(
        User.oidc_issuer == provider.issuer, User.active.is_(True))).scalar_one()
    last = session.execute(select(func.max(User.last_login_at)).where(User.oidc_issuer == provider.issuer)).scalar()
    refused = session.execute(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "auth.sso_refused", AuditEvent.at >= utcnow() - timedelta(days=30))).scalar_one()
    return Overview(mapping, accounts, last, refused)


def provider_host(issuer: str) -> str:
    """The provider's host, for pages ("login.microsoftonline.com")."""
    return urlsplit(issuer).hostname or issuer
