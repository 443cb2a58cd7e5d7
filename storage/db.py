"""Engines, sessions and schema migrations."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def make_engine(url: str, **kwargs) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout on every connection."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=FULL")  # a commit is on disk before we say so
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        _install_sqlite_transactions(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


#: execution option for a session or connection whose transaction will write: on SQLite it starts
#: with BEGIN IMMEDIATE (takes the write lock at once) instead of a deferred, read-only start
WRITE = {"vaern_write": True}

_WRITE_SQL = ("INSERT", "UPDATE", "DELETE", "REPLACE", "SAVEPOINT", "CREATE", "DROP", "ALTER")


def _install_sqlite_transactions(engine: Engine) -> None:
    """Reads never take SQLite's write lock; a unit that writes holds it only from its first write.

    A transaction starts deferred (``BEGIN``): it reads a WAL snapshot and blocks no writer. A unit
    known to write (``WRITE`` option, e.g. ``Runtime.transaction``) starts with ``BEGIN IMMEDIATE``.
    A deferred transaction that turns out to write (a web request that records an audit event) is
    upgraded just before its first write or ``SELECT … FOR UPDATE``: it ends its read snapshot (it has
    written nothing) and begins again with ``BEGIN IMMEDIATE``, so it queues behind other writers
    instead of failing with "database is locked" (SQLite cannot upgrade a stale WAL snapshot in place).
    What it read before the upgrade may since have changed: read-committed, as on PostgreSQL.
    """

    @event.listens_for(engine, "connect")
    def _no_pysqlite_begin(dbapi_conn, _record):  # pragma: no cover - trivial
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves

    @event.listens_for(engine, "begin")
    def _begin(conn):
        if conn.get_execution_options().get("vaern_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            conn.info["vaern_txn"] = "write"
        else:
            conn.exec_driver_sql("BEGIN")
            conn.info["vaern_txn"] = "read"

    @event.listens_for(engine, "before_execute")
    def _for_update(conn, clauseelement, _multiparams, _params, _options):
        if conn.info.get("vaern_txn") == "read" and getattr(clauseelement, "_for_update_arg", None) is not None:
            _upgrade(conn.connection.dbapi_connection.cursor(), conn)

    @event.listens_for(engine, "before_cursor_execute")
    def _first_write(conn, cursor, statement, _parameters, _context, _executemany):
        if conn.info.get("vaern_txn") == "read" and statement.lstrip()[:9].upper().startswith(_WRITE_SQL):
            _upgrade(cursor, conn)

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _ended(conn):
        conn.info.pop("vaern_txn", None)


def _upgrade(cursor, conn) -> None:
    cursor.execute("COMMIT")  # only a read snapshot ends here: nothing was written yet
    cursor.execute("BEGIN IMMEDIATE")
    conn.info["vaern_txn"] = "write"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Run pending migrations (Alembic owns the schema from the first table on)."""
    command.upgrade(alembic_config(url), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def hold_write_lock(session: Session) -> None:
    """Take SQLite's write lock now, before a read whose answer the coming write depends on.

    E.g. the audit chain's head: read under the lock, so no other writer can append in between.
    A no-op on other databases and when the transaction already writes.
    """
    conn = session.connection()
    if conn.dialect.name == "sqlite" and conn.info.get("vaern_txn") == "read":
        _upgrade(conn.connection.dbapi_connection.cursor(), conn)
