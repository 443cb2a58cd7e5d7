"""Who owns a transaction, and what happens only once it is committed.

One owner per unit of work: a web request (``webui.db``) or a job / CLI command (``unit_of_work``).
Operations (``tracker.*``) write into the session they are given and never commit or roll back.

Side effects that must not happen for a rolled-back write (an e-mail, a job on the queue) are
registered with ``after_commit`` (a callable) or ``defer`` (an item on a list an adapter reads after
commit) and run only when the outermost transaction commits. Both are savepoint-aware: what was
registered inside a savepoint that rolls back is forgotten with its writes; what was registered
inside a released savepoint waits for the outer commit (SQLAlchemy fires ``after_commit`` on a
savepoint's release too, which is why the adapters ask ``outer_commit`` first).
"""
from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any, Callable, Iterator

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from storage.db import WRITE

if TYPE_CHECKING:
    from tracker.adapters.runtime import Runtime

log = logging.getLogger(__name__)

_HOOKS = "vaern_after_commit"
_KEYS = "vaern_deferred_keys"  #: the session.info keys holding deferred items
_MARKS = "vaern_savepoint_marks"  #: savepoint → how long each deferred list was when it began


@contextlib.contextmanager
def unit_of_work(rt: "Runtime", *, write: bool = True) -> Iterator[Session]:
    """A job's or CLI command's transaction: commits on success (then its after-commit hooks run),
    rolls back on any exception. ``write`` takes SQLite's write lock at the start (see storage.db)."""
    with rt.Session(**({"execution_options": WRITE} if write else {})) as session:
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        session.commit()


@contextlib.contextmanager
def savepoint(session: Session) -> Iterator[Session]:
    """Part of a transaction that lands whole or not at all: on an exception its writes and its
    after-commit registrations are undone, and the exception goes on; the rest of the transaction stays."""
    with session.begin_nested():
        yield session


def defer(session: Session, key: str, item: Any) -> None:
    """Put ``item`` on the session's list ``key``; an adapter's after-commit listener takes the list
    (checking ``outer_commit``). Forgotten on rollback, also of the savepoint it was put in."""
    session.info.setdefault(key, []).append(item)
    keys = session.info.setdefault(_KEYS, [])
    if key not in keys:
        keys.append(key)


def after_commit(session: Session, hook: Callable[[], object]) -> None:
    """Call ``hook()`` once the outermost transaction of ``session`` commits; never on rollback."""
    defer(session, _HOOKS, hook)


def outer_commit(session: Session) -> bool:
    """True in an ``after_commit`` listener for the real commit, False for a savepoint's release."""
    return not session.in_nested_transaction()


def _lengths(session: Session) -> dict[str, int]:
    return {key: len(session.info.get(key, ())) for key in session.info.get(_KEYS, ())}


@event.listens_for(Session, "after_transaction_create")
def _mark(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        session.info.setdefault(_MARKS, {})[transaction] = _lengths(session)


@event.listens_for(Session, "after_transaction_end")
def _unmark(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        session.info.get(_MARKS, {}).pop(transaction, None)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    if session.in_nested_transaction():  # back to the savepoint: forget what was registered since
        mark = session.info.get(_MARKS, {}).get(session.get_nested_transaction(), {})
        for key in session.info.get(_KEYS, ()):
            del session.info.get(key, [])[mark.get(key, 0):]
    else:
        for key in session.info.pop(_KEYS, ()):
            session.info.pop(key, None)


@event.listens_for(Session, "after_commit")
def _run_hooks(session: Session) -> None:
    if not outer_commit(session):
        return
    for hook in session.info.pop(_HOOKS, []):
        try:
            hook()
        except Exception:  # the commit stands; a sweep or the next request repairs what the hook did not
            log.exception("an after-commit hook failed: %r", hook)
