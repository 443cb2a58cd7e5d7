"""Per-request database session: one owner of the transaction (the request)."""
from __future__ import annotations

from flask import current_app, g
from sqlalchemy.orm import Session

from tracker.adapters.runtime import Runtime


def runtime() -> Runtime:
    return current_app.extensions["vaern"]


def db() -> Session:
    if "db" not in g:
        g.db = runtime().Session()
    return g.db
