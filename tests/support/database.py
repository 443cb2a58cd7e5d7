"""A migrated SQLite database made once per test process and copied for each runtime.

Alembic from an empty file costs ~60 ms per runtime (plus loading its scripts); a copy of the
migrated file costs well under 1 ms and holds the same schema, because it was made by the same
migrations in the same run. PostgreSQL schemas, and any database file that already exists, are
migrated by Alembic as before; tests/integration/test_migrations.py runs Alembic itself.
"""
from __future__ import annotations

import atexit
import contextlib
import secrets
import shutil
import sqlite3
import tempfile
import threading
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, text

from storage.db import upgrade
from tracker.adapters.runtime import Runtime
from tracker.settings import Settings

_lock = threading.Lock()
_template: Path | None = None


def sqlite_template() -> Path:
    """The migrated database file (made on first use, deleted when the test process ends)."""
    global _template
    with _lock:
        if _template is None:
            folder = Path(tempfile.mkdtemp(prefix="vaern-test-template-"))
            atexit.register(shutil.rmtree, folder, True)
            path = folder / "vaern.sqlite3"
            upgrade(f"sqlite:///{path}")
            with sqlite3.connect(path) as con:  # fold the write-ahead log in: the one file is the database
                con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            con.close()
            _template = path
        return _template


def new_runtime(settings: Settings) -> Runtime:
    """``Runtime.from_settings(settings)``, but a new SQLite database starts as a copy of the template."""
    url = settings.resolved_database_url
    if url.startswith("sqlite:///"):
        target = Path(url.removeprefix("sqlite:///"))
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(sqlite_template(), target)
            return Runtime.from_settings(settings, migrate=False)
    return Runtime.from_settings(settings)


@contextlib.contextmanager
def fresh_pg_schema(base_url: str) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a new schema on ``base_url``'s database, dropped afterwards."""
    schema = f"vaern_t_{secrets.token_hex(6)}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base_url else "?"
    try:
        yield f"{base_url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text("SET lock_timeout = '20s'"))  # a leaked transaction fails the caller, not hangs it
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
