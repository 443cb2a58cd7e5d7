"""Per-request database session: the request is the one owner of its transaction.

- A response below 500 commits what the request wrote, once, after the view returned. That includes
  4xx: a refusal is an answer whose own records (a failed login, a throttle count, the audit event of a
  denied or re-rendered form) must stay. An action that failed never reaches it half-applied, because
  views run actions through ``perform`` (a savepoint).
- An exception or a 5xx response rolls everything back; ``abort_keeping(code)`` is the one exception,
  for an error page whose cause is itself recorded (an evidence file that failed its check).
- Views never call ``commit()``/``rollback()``. E-mails and queued jobs registered with
  ``tracker.uow.after_commit`` / ``defer`` leave only after the commit.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Generic, NoReturn, TypeVar

from flask import Flask, abort, current_app, g
from sqlalchemy.orm import Session

from tracker.adapters.runtime import Runtime
from tracker.errors import DomainError
from tracker.uow import savepoint

T = TypeVar("T")


def runtime() -> Runtime:
    return current_app.extensions["vaern"]


def db() -> Session:
    if "db" not in g:
        g.db = runtime().Session()
    return g.db


@dataclass
class Outcome(Generic[T]):
    """What ``perform`` returns: the action's value, or the DomainError that undid it."""

    value: T | None = None
    error: DomainError | None = None

    def __bool__(self) -> bool:
        return self.error is None


def perform(action: Callable[..., T], *args: Any, **kwargs: Any) -> Outcome[T]:
    """Run ``action(db(), *args, **kwargs)`` in a savepoint of the request's transaction.

    A DomainError undoes the action's writes (and its after-commit registrations) and is returned for
    the form to show; the request still commits what it wrote outside. Any other exception (NotFound
    too) also undoes the action and goes on to the view.
    """
    session = db()
    try:
        with savepoint(session):
            return Outcome(value=action(session, *args, **kwargs))
    except DomainError as exc:
        return Outcome(error=exc)


def abort_keeping(code: int) -> NoReturn:
    """Answer with the error page ``code`` but commit what the request recorded (e.g. the audit event
    of an integrity error): the only way a 5xx keeps its writes."""
    g.db_keep = True
    abort(code)


def _finish(response):
    session = g.get("db")
    if session is None or g.get("db_finished"):
        return response
    g.db_finished = True  # after_request runs again for the error page if the commit fails
    if response.status_code < 500 or g.get("db_keep"):
        session.commit()
    else:
        session.rollback()
    return response


def _close(_exc) -> None:
    session = g.pop("db", None)
    if session is not None:
        if not g.get("db_finished"):  # an exception no error page answered
            session.rollback()
        session.close()


def init_app(app: Flask) -> None:
    """Register the request's commit (after the view) and close (always); call before other after_request
    handlers so the commit runs last (Flask runs them in reverse order)."""
    app.after_request(_finish)
    app.teardown_appcontext(_close)
