"""Capture profiles (issue 14): the logged-in state of a platform account the municipality runs, used for
captures and re-checks of URLs on its hosts.

A profile is a Playwright storage state (cookies, local storage) encrypted at rest with Fernet (AES-128-CBC
+ HMAC-SHA256, from ``cryptography``) under a key derived by HKDF-SHA256 from ``VAERN_PROFILE_KEY`` or,
without it, the secret key. Only ``profile_for_url`` decrypts, for the capture job; the state is never
audited, logged, exported or shown — audit events and lists carry the name, hosts, account text and the
number of cookies. Administration only (``require_admin``; ``None`` is the operator at the shell). A
capture that meets a login wall although a profile was used marks the profile ``logged_out`` (it is not
used again until imported anew) and the administrators are e-mailed after the commit.
"""
from __future__ import annotations

import base64
import json
import logging
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.orm import Session

from capture.profiles import CaptureProfile as Loaded
from capture.profiles import check_storage_state
from storage.models import CaptureProfile, Evidence, Role, User
from storage.types import utcnow
from tracker import uow
from tracker.accounts.permissions import require_admin
from tracker.errors import DomainError, NotFound
from tracker.oversight import audit

if TYPE_CHECKING:
    from tracker.adapters.runtime import Runtime
    from tracker.settings import Settings

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")
HOST_RE = re.compile(r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?)*$")
MAX_STATE_BYTES = 1024 * 1024
MAX_HOSTS = 50
ACTIVE, LOGGED_OUT = "active", "logged_out"
_KEY_INFO = b"vaern capture profiles v1"


def cipher(settings: "Settings") -> Fernet:
    """The profiles' Fernet key, derived from ``profile_key`` or else the secret key (changing it strands them)."""
    secret = (settings.profile_key or settings.resolved_secret_key()).encode("utf-8")
    key = HKDF(algorithm=SHA256(), length=32, salt=b"vaern-capture-profiles", info=_KEY_INFO).derive(secret)
    return Fernet(base64.urlsafe_b64encode(key))


# -- hosts ------------------------------------------------------------------------------------------
def parse_hosts(text: str) -> list[str]:
    """``"facebook.com, m.facebook.com:443"`` → sorted ``["facebook.com", "m.facebook.com:443"]``; DomainError if bad."""
    hosts: set[str] = set()
    for raw in re.split(r"[,\s]+", text or ""):
        item = raw.strip().lower().rstrip(".")
        if not item:
            continue
        host, sep, port = item.partition(":")
        host = host.rstrip(".")
        if not HOST_RE.match(host) or (sep and not (port.isdigit() and 0 < int(port) < 65536)):
            raise DomainError("profile_hosts", f"{raw.strip()!r} is not host or host:port", "hosts")
        hosts.add(f"{host}:{int(port)}" if sep else host)
    if not hosts or len(hosts) > MAX_HOSTS:
        raise DomainError("profile_hosts", f"a profile needs 1 to {MAX_HOSTS} hosts", "hosts")
    return sorted(hosts)


def host_of(url: str) -> tuple[str, int] | None:
    try:
        p = urlsplit(url)
        port = p.port or {"http": 80, "https": 443}.get(p.scheme.lower())
    except ValueError:
        return None
    host = (p.hostname or "").rstrip(".").lower()
    return (host, port) if host and port else None


def matches(hosts: list[str], url: str) -> int:
    """How well ``hosts`` fit ``url``: 2 host and port, 1 host (no port given: any port), 0 not at all."""
    where = host_of(url)
    if where is None:
        return 0
    host, port = where
    if f"{host}:{port}" in hosts:
        return 2
    return 1 if host in hosts else 0


# -- operations ---------------------------------------------------------------------------------------
def _described(row: CaptureProfile, **extra: Any) -> dict[str, Any]:
    """What an audit event says about a profile: never the state."""
    return {"name": row.name, "account": row.account, "hosts": list(row.hosts), "cookies": row.cookies, **extra}


def import_profile(session: Session, actor: User | None, settings: "Settings", name: str, hosts: str,
                   state: bytes, account: str = "", *, by_login: bool = False) -> tuple[CaptureProfile, bool]:
    """Store (or replace, reactivating it) profile ``name`` from Playwright storage-state JSON; (row, replaced).

    ``by_login``: the state comes from an administrator's login in the remote browser (the audit event says so).

    DomainError: profile_name, profile_hosts, profile_account, profile_state.
    """
    require_admin(actor)
    name = (name or "").strip().lower()
    if not NAME_RE.match(name):
        raise DomainError("profile_name", "a profile name is 1-80 of a-z, 0-9, '.', '_' and '-'", "name")
    host_list = parse_hosts(hosts)
    account = " ".join((account or "").split())
    if len(account) > 200:
        raise DomainError("profile_account", "the account description is at most 200 characters", "account")
    if len(state) > MAX_STATE_BYTES:
        raise DomainError("profile_state", "the storage state is larger than 1 MiB", "storage_state")
    try:
        parsed = check_storage_state(json.loads(state.decode("utf-8")))
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError) as exc:
        msg = str(exc) if isinstance(exc, ValueError) and not isinstance(exc, json.JSONDecodeError) else "not JSON"
        raise DomainError("profile_state", f"not a Playwright storage state: {msg}", "storage_state") from None
    token = cipher(settings).encrypt(json.dumps(parsed, separators=(",", ":")).encode("utf-8")).decode("ascii")
    row = session.execute(select(CaptureProfile).where(CaptureProfile.name == name)).scalar()
    replaced = row is not None
    if row is None:
        row = CaptureProfile(name=name, created_by_id=actor.id if actor is not None else None)
        session.add(row)
    row.account, row.hosts, row.state_encrypted, row.cookies = account, host_list, token, len(parsed["cookies"])
    row.status, row.logged_out_at, row.logged_out_evidence_id, row.updated_at = ACTIVE, None, None, utcnow()
    session.flush()
    via = {"via": "remote_browser"} if by_login else {}
    audit.record(session, actor, "profile.import", "capture_profile", row.id,
                 **_described(row, replaced=replaced, **via))
    return row, replaced


def save_from_login(session: Session, actor: User | None, settings: "Settings", name: str, hosts: str,
                    state: dict[str, Any], account: str = "") -> tuple[CaptureProfile, bool]:
    """Store the storage state of the remote browser an administrator logged in with (same checks as an import)."""
    require_admin(actor)
    data = json.dumps(state, separators=(",", ":")).encode("utf-8")
    return import_profile(session, actor, settings, name, hosts, data, account, by_login=True)


def list_profiles(session: Session, actor: User | None) -> list[CaptureProfile]:
    require_admin(actor)
    return list(session.execute(select(CaptureProfile).order_by(CaptureProfile.name)).scalars())


def get_profile(session: Session, actor: User | None, name: str) -> CaptureProfile:
    """NotFound for an unknown name (and for anyone but an administrator)."""
    require_admin(actor)
    row = session.execute(select(CaptureProfile).where(CaptureProfile.name == (name or "").strip().lower())).scalar()
    if row is None:
        raise NotFound("capture profile")
    return row


def remove_profile(session: Session, actor: User | None, name: str) -> None:
    """Delete the profile and its stored login; the audit event keeps its name, hosts and account."""
    row = get_profile(session, actor, name)
    audit.record(session, actor, "profile.remove", "capture_profile", row.id, **_described(row))
    session.delete(row)
    session.flush()


# -- captures -----------------------------------------------------------------------------------------
def profile_for_url(session: Session, settings: "Settings", url: str) -> Loaded | None:
    """The active profile bound to ``url``'s host (host:port before host alone), decrypted; None if none fits.

    A profile that cannot be decrypted (the key changed) is skipped with a warning naming it.
    """
    rows = [(matches(r.hosts, url), r) for r in session.execute(
        select(CaptureProfile).where(CaptureProfile.status == ACTIVE).order_by(CaptureProfile.name)).scalars()]
    rows = sorted(((m, r) for m, r in rows if m), key=lambda mr: -mr[0])
    for _, row in rows:
        try:
            state = json.loads(cipher(settings).decrypt(row.state_encrypted.encode("ascii")))
        except (InvalidToken, ValueError):
            log.warning("capture profile %r cannot be decrypted (was VAERN_PROFILE_KEY or the secret key "
                        "changed?); capturing without it", row.name)
            continue
        return Loaded(name=row.name, account=row.account, storage_state=state)
    return None


def after_capture(session: Session, rt: "Runtime", ev: Evidence, manifest: dict[str, Any], status: str) -> None:
    """A login wall met with a profile marks the profile logged out; the administrators hear of it after commit."""
    used = manifest.get("profile")
    if not used or status != "login_wall":
        return
    row = session.execute(select(CaptureProfile).where(CaptureProfile.name == used.get("name"))).scalar()
    if row is None or row.status != ACTIVE:
        return
    row.status, row.logged_out_at, row.logged_out_evidence_id = LOGGED_OUT, utcnow(), ev.id
    session.flush()
    audit.record(session, None, "profile.logged_out", "capture_profile", row.id, ev.case_id,
                 name=row.name, account=row.account, evidence_id=ev.id)
    profile_id, evidence_id = row.id, ev.id
    uow.after_commit(session, lambda: tell_admins(rt, profile_id, evidence_id))


def tell_admins(rt: "Runtime", profile_id: int, evidence_id: int) -> int:
    """E-mail every active administrator that the profile is logged out (once each); returns how many were sent.

    The mail names the profile and account and links to the admin page — no case content.
    """
    with rt.Session() as session:
        row = session.get(CaptureProfile, profile_id)
        if row is None:
            return 0
        name, account = row.name, row.account
        admins = list(session.execute(select(User.id).where(User.role == Role.admin, User.active.is_(True))
                                      .order_by(User.id)).scalars())
    link = f"{rt.settings.base_url.rstrip('/')}/admin/profiles"
    who = f" ({account})" if account else ""
    subject = f"Værn: Capture-profilen {name} er logget ud / Capture profile logged out"
    body = (f"Capture-profilen »{name}«{who} er logget ud: en sikring med den mødte en login-væg. Værn bruger "
            f"den ikke, før den er importeret igen.\n{link}\n\n"
            f"The capture profile \"{name}\"{who} is logged out: a capture with it met a login wall. Værn does "
            f"not use it until it is imported again.\n{link}\n\n"
            "-- \nVærn. Svar ikke på denne e-mail. / Do not reply to this e-mail.\n")
    return sum(rt.send_text_once(f"profile_logged_out:{profile_id}:{evidence_id}:{uid}", uid,
                                 "profile_logged_out", subject, body) for uid in admins)


def logged_out_by_capture(session: Session, evidence_id: int) -> list[CaptureProfile]:
    """Profiles that this capture found logged out (and that are not imported again since)."""
    return list(session.execute(
        select(CaptureProfile).where(CaptureProfile.logged_out_evidence_id == evidence_id,
                                     CaptureProfile.status == LOGGED_OUT).order_by(CaptureProfile.name)).scalars())
