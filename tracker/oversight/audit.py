"""The audit chain: every create, update, view, download and export is an event.

Each event stores the previous event's hash; ``hash`` covers ``prev_hash`` and the event's own
fields in canonical JSON, so editing, removing or inserting an event breaks the chain.

Two body formats. Events written before migration 0009 hash their ``details`` directly. Events since then
store ``details_sha256`` (SHA-256 of the details' canonical JSON) and their hash covers that digest instead of
the details: retention may later replace the details of an erased case's events with an erasure marker
(``erase_details``), and the chain still verifies, because it commits to the digest, not to the payload. Intact
details must still hash to the digest; the only other accepted form is the marker, which keeps the hash-valued
keys (``KEPT_ON_ERASURE``) that `vaern verify` reads and says which rule erased the rest.
What a chain alone cannot show (its newest events cut off, or the whole chain rewritten) is
covered by the anchors in ``tracker.integrity.integrity``.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from canon import canonical_json
from storage.db import hold_write_lock
from storage.models import AuditEvent, User
from storage.types import utcnow

GENESIS = "0" * 64


def event_body(prev_hash: str, *, at: str, actor_id: int | None, action: str, object_type: str,
               object_id: str, case_id: int | None, details: dict[str, Any]) -> bytes:
    """The exact bytes an event's hash is over (canonical JSON); export packages ship them for re-hashing."""
    return canonical_json({"prev": prev_hash, "at": at, "actor": actor_id, "action": action,
                           "object_type": object_type, "object_id": object_id, "case": case_id,
                           "details": details})


def event_body_v2(prev_hash: str, *, at: str, actor_id: int | None, action: str, object_type: str,
                  object_id: str, case_id: int | None, details_sha256: str) -> bytes:
    """The bytes an event's hash is over since migration 0009: the details only as their digest."""
    return canonical_json({"prev": prev_hash, "at": at, "actor": actor_id, "action": action,
                           "object_type": object_type, "object_id": object_id, "case": case_id,
                           "details_sha256": details_sha256})


def details_digest(details: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(details)).hexdigest()


#: keys an erasure keeps in the details: hashes `vaern verify` compares rows with (no personal data)
KEPT_ON_ERASURE = ("facts_sha256", "fingerprint", "rule")
ERASED_KEY = "erased_by_rule"


def is_erased(details: Any) -> bool:
    return isinstance(details, dict) and ERASED_KEY in details and set(details) <= {ERASED_KEY, *KEPT_ON_ERASURE}


def stored_event_body(ev: Any) -> bytes:
    """The body a stored event's hash is over (an AuditEvent or a row with its columns), in its format."""
    digest = getattr(ev, "details_sha256", None)
    if digest:
        return event_body_v2(ev.prev_hash, at=ev.at.isoformat(), actor_id=ev.actor_id, action=ev.action,
                             object_type=ev.object_type, object_id=ev.object_id, case_id=ev.case_id,
                             details_sha256=digest)
    return event_body(ev.prev_hash, at=ev.at.isoformat(), actor_id=ev.actor_id, action=ev.action,
                      object_type=ev.object_type, object_id=ev.object_id, case_id=ev.case_id,
                      details=ev.details or {})


def erase_details(ev: "AuditEvent", rule: str) -> bool:
    """Replace the event's details by the erasure marker (keeping ``KEPT_ON_ERASURE``); False for an event of
    the old format, whose hash covers its details (erasing them would break the chain)."""
    if not ev.details_sha256 or is_erased(ev.details):
        return False
    kept = {k: v for k, v in (ev.details or {}).items() if k in KEPT_ON_ERASURE}
    ev.details = {**kept, ERASED_KEY: rule}
    return True


def event_hash(prev_hash: str, **fields: Any) -> str:
    return hashlib.sha256(event_body(prev_hash, **fields)).hexdigest()


def record(session: Session, actor: User | None, action: str, object_type: str, object_id: object,
           case_id: int | None = None, **details: Any) -> AuditEvent:
    """Append one event to the chain (within the caller's transaction)."""
    if session.get_bind().dialect.name == "postgresql":
        # serialise appenders so two transactions cannot both chain onto the same head
        session.execute(text("SELECT pg_advisory_xact_lock(7415001)"))
    else:
        hold_write_lock(session)  # SQLite: a request's deferred read snapshot must not pick the head
    head = session.execute(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).scalar()
    prev = head or GENESIS
    at = utcnow()
    actor_id = actor.id if actor is not None else None
    details = {k: v for k, v in details.items() if v is not None}
    digest = details_digest(details)
    ev = AuditEvent(at=at, actor_id=actor_id, action=action, object_type=object_type,
                    object_id=str(object_id), case_id=case_id, details=details, details_sha256=digest, prev_hash=prev)
    ev.hash = hashlib.sha256(event_body_v2(prev, at=at.isoformat(), actor_id=actor_id, action=action,
                                           object_type=object_type, object_id=str(object_id), case_id=case_id,
                                           details_sha256=digest)).hexdigest()
    session.add(ev)
    session.flush()
    return ev


@dataclass(frozen=True)
class EditedEvent:
    """An event whose stored content no longer hashes to its stored ``hash``."""

    id: int
    at: datetime | None
    action: str
    object_type: str
    object_id: str


@dataclass(frozen=True)
class BrokenLink:
    """``event_id``'s ``prev_hash`` is not the hash of ``before_id``, the event before it (None: it is the first)."""

    before_id: int | None
    event_id: int
    claimed_prev: str


@dataclass
class ChainWalk:
    """What one pass over the whole chain found, in id order."""

    count: int = 0
    head_id: int | None = None
    head_hash: str | None = None
    edited: list[EditedEvent] = field(default_factory=list)
    broken: list[BrokenLink] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.edited and not self.broken


_CHAIN_COLUMNS = (AuditEvent.id, AuditEvent.at, AuditEvent.actor_id, AuditEvent.action, AuditEvent.object_type,
                  AuditEvent.object_id, AuditEvent.case_id, AuditEvent.details, AuditEvent.details_sha256,
                  AuditEvent.prev_hash, AuditEvent.hash)


def _recomputed(row) -> str | None:
    """The hash the row's content should have; None when the content cannot be hashed at all (edited), or when
    its details are neither the ones its digest names nor an erasure marker."""
    try:
        if row.details_sha256 and not is_erased(row.details) and details_digest(row.details or {}) != row.details_sha256:
            return None
        return hashlib.sha256(stored_event_body(row)).hexdigest()
    except (TypeError, ValueError, AttributeError):  # e.g. a float or a non-object written in by hand
        return None


class _Walker:
    """Feeds rows in id order; keeps the previous event's id and hash between batches."""

    def __init__(self) -> None:
        self.walk = ChainWalk()
        self.prev_id: int | None = None
        self.prev_hash = GENESIS

    def feed(self, row) -> None:
        if row.prev_hash != self.prev_hash:
            self.walk.broken.append(BrokenLink(self.prev_id, row.id, row.prev_hash))
        if _recomputed(row) != row.hash:
            self.walk.edited.append(EditedEvent(row.id, row.at, row.action, row.object_type, row.object_id))
        self.walk.count += 1
        self.prev_id, self.prev_hash = row.id, row.hash

    def done(self) -> ChainWalk:
        self.walk.head_id = self.prev_id
        self.walk.head_hash = self.prev_hash if self.prev_id is not None else None
        return self.walk


def walk_chain(session: Session, batch: int = 5000) -> ChainWalk:
    """One streamed pass in id order: re-hash every event and check every previous-hash link."""
    walker = _Walker()
    for row in session.execute(select(*_CHAIN_COLUMNS).order_by(AuditEvent.id).execution_options(yield_per=batch)):
        walker.feed(row)
    return walker.done()


def walk_chain_in_batches(session_factory: Callable[[], Session], batch: int = 5000) -> ChainWalk:
    """The same walk in short read transactions of ``batch`` events (keyset on id), up to the head as it
    was when the walk began: a long chain never holds SQLite's lock or one PostgreSQL snapshot for long.

    Sound because the chain only grows at the head: an event changed between two batches is still
    checked against the hash the next event names.
    """
    walker = _Walker()
    with session_factory() as session:
        upto = session.scalar(select(func.max(AuditEvent.id)))
    after = None
    while upto is not None:
        with session_factory() as session:
            query = select(*_CHAIN_COLUMNS).where(AuditEvent.id <= upto).order_by(AuditEvent.id).limit(batch)
            rows = session.execute(query if after is None else query.where(AuditEvent.id > after)).all()
        for row in rows:
            walker.feed(row)
        if len(rows) < batch:
            break
        after = rows[-1].id
    return walker.done()


def verify_chain(session: Session) -> list[str]:
    """Walk the chain; return one line per broken link (empty list: intact).

    The short form; ``tracker.integrity.integrity`` says which events border a gap and checks the anchors.
    """
    walk = walk_chain(session)
    lines = [(b.event_id, 0, f"audit event {b.event_id}: previous-hash link broken "
                             "(an event before it was removed or inserted)") for b in walk.broken]
    lines += [(e.id, 1, f"audit event {e.id}: content does not match its hash (edited)") for e in walk.edited]
    return [text_ for _, _, text_ in sorted(lines)]
