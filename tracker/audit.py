"""The audit chain (first version): every create, update, view and download is an event.

Each event stores the previous event's hash; ``hash`` covers ``prev_hash`` and the event's own
fields in canonical JSON, so editing, removing or inserting an event breaks the chain.
"""
from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from capture.bundle import canonical_json
from storage.models import AuditEvent, User
from storage.types import utcnow

GENESIS = "0" * 64


def event_hash(prev_hash: str, *, at: str, actor_id: int | None, action: str, object_type: str,
               object_id: str, case_id: int | None, details: dict[str, Any]) -> str:
    body = canonical_json({"prev": prev_hash, "at": at, "actor": actor_id, "action": action,
                           "object_type": object_type, "object_id": object_id, "case": case_id,
                           "details": details})
    return hashlib.sha256(body).hexdigest()


def record(session: Session, actor: User | None, action: str, object_type: str, object_id: object,
           case_id: int | None = None, **details: Any) -> AuditEvent:
    """Append one event to the chain (within the caller's transaction)."""
    if session.get_bind().dialect.name == "postgresql":
        # serialise appenders so two transactions cannot both chain onto the same head
        session.execute(text("SELECT pg_advisory_xact_lock(7415001)"))
    head = session.execute(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).scalar()
    prev = head or GENESIS
    at = utcnow()
    actor_id = actor.id if actor is not None else None
    details = {k: v for k, v in details.items() if v is not None}
    ev = AuditEvent(at=at, actor_id=actor_id, action=action, object_type=object_type,
                    object_id=str(object_id), case_id=case_id, details=details, prev_hash=prev)
    ev.hash = event_hash(prev, at=at.isoformat(), actor_id=actor_id, action=action,
                         object_type=object_type, object_id=str(object_id), case_id=case_id,
                         details=details)
    session.add(ev)
    session.flush()
    return ev


def verify_chain(session: Session) -> list[str]:
    """Walk the chain; return one line per broken link (empty list: intact)."""
    problems: list[str] = []
    prev = GENESIS
    for ev in session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars():
        if ev.prev_hash != prev:
            problems.append(f"audit event {ev.id}: previous-hash link broken (an event before it was removed or inserted)")
        expected = event_hash(ev.prev_hash, at=ev.at.isoformat(), actor_id=ev.actor_id, action=ev.action,
                              object_type=ev.object_type, object_id=ev.object_id, case_id=ev.case_id,
                              details=ev.details or {})
        if expected != ev.hash:
            problems.append(f"audit event {ev.id}: content does not match its hash (edited)")
        prev = ev.hash
    return problems
