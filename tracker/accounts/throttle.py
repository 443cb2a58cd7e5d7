"""Login throttling without lockout (OWASP Authentication Cheat Sheet: growing delays, not a locked account).

Wrong passwords are counted per (account, client address) and per client address — never per account
alone, so a stranger guessing from elsewhere cannot lock the real user out of their own address. After
``free`` failures each further attempt from that pair (or address) must wait twice as long as the last:
1 s, 2 s, 4 s … up to ``MAX_DELAY``. A counter is forgotten after ``FORGET_AFTER`` without a failure;
the pair's counter is cleared by a successful login. Counters live in the database (``login_throttle``)
so every web process sees the same ones; only SHA-256 keys are stored, no e-mail or address.
"""
from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from storage.models import LoginThrottle
from storage.types import utcnow

MAX_DELAY = timedelta(minutes=15)
FORGET_AFTER = timedelta(hours=24)


def _key(kind: str, *parts: str) -> str:
    return hashlib.sha256("\x1f".join((kind, *parts)).encode("utf-8", "surrogatepass")).hexdigest()


def keys(email: str, address: str) -> tuple[str, str]:
    """The (account, address) key and the address key."""
    email = (email or "").strip().lower()[:320]
    address = address or "-"
    return _key("account", email, address), _key("address", address)


def delay_after(failures: int, free: int) -> timedelta:
    """How long after the last failure the next attempt must wait."""
    if failures < free:
        return timedelta(0)
    exponent = failures - free
    if exponent >= math.log2(MAX_DELAY.total_seconds()):
        return MAX_DELAY
    return min(timedelta(seconds=2 ** exponent), MAX_DELAY)


def wait_seconds(session: Session, email: str, address: str, *, free_per_account: int, free_per_address: int,
                 now: datetime | None = None) -> int:
    """Whole seconds this attempt must still wait (0: it may be tried now)."""
    now = now or utcnow()
    account_key, address_key = keys(email, address)
    rows = {r.key: r for r in session.execute(
        select(LoginThrottle).where(LoginThrottle.key.in_([account_key, address_key]))).scalars()}
    wait = timedelta(0)
    for key, free in ((account_key, free_per_account), (address_key, free_per_address)):
        row = rows.get(key)
        if row is None or now - row.last_failure_at > FORGET_AFTER:
            continue
        wait = max(wait, row.last_failure_at + delay_after(row.failures, free) - now)
    return math.ceil(wait.total_seconds()) if wait > timedelta(0) else 0


def record_failure(session: Session, email: str, address: str, now: datetime | None = None) -> None:
    """Count one wrong password for the pair and the address (race-free upsert)."""
    now = now or utcnow()
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.flush()
    for key in keys(email, address):
        row = session.get(LoginThrottle, key)
        if row is not None and now - row.last_failure_at > FORGET_AFTER:
            row.failures, row.last_failure_at = 1, now
            continue
        stmt = insert(LoginThrottle).values(key=key, failures=1, last_failure_at=now)
        session.execute(stmt.on_conflict_do_update(
            index_elements=["key"],
            set_={"failures": LoginThrottle.failures + 1, "last_failure_at": now}))
        if row is not None:
            session.expire(row)  # the upsert changed it behind the ORM's back
    # forgotten counters go (the table stays as small as the failures of the last day)
    session.execute(delete(LoginThrottle).where(LoginThrottle.last_failure_at < now - FORGET_AFTER))


def record_success(session: Session, email: str, address: str) -> None:
    """A correct password from this address: the pair's counter starts again (the address's does not)."""
    account_key, _ = keys(email, address)
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == account_key))
