"""offenders: a trigram index on handle and display name for HR's "part of a name" search (issue 11.8)

The offender register grows with the cases (tens of thousands of accounts after some years), and HR finds an
offender by any part of the handle or name, so every search read every offender (in Python on SQLite, for
æ, ø, å). SQLite: an FTS5 table ``offender_name_fts`` with the trigram tokenizer (case-insensitive), external
content kept in step by triggers. PostgreSQL: GIN indexes with pg_trgm's operator class, which ILIKE uses;
if the extension cannot be created (no right to), the migration goes on without them and the search scans,
as before. Like migration 0004's, these objects are search indexes, invisible to the models: the drift check
skips them by name (tracker.oversight.search.is_search_index_object).

Revision ID: 0016
Revises: 0015
"""
import logging

import sqlalchemy as sa
from alembic import op


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

FTS = "offender_name_fts"
PG_INDEXES = {"ix_offenders_handle_trgm": "handle", "ix_offenders_display_name_trgm": "display_name"}

SQLITE_UP = [
    f"CREATE VIRTUAL TABLE {FTS} USING fts5(handle, display_name, content='offenders', content_rowid='id', "
    "tokenize='trigram case_sensitive 0')",
    f"CREATE TRIGGER {FTS}_ai AFTER INSERT ON offenders BEGIN "
    f"INSERT INTO {FTS}(rowid, handle, display_name) VALUES (new.id, new.handle, new.display_name); END",
    f"CREATE TRIGGER {FTS}_ad AFTER DELETE ON offenders BEGIN "
    f"INSERT INTO {FTS}({FTS}, rowid, handle, display_name) VALUES ('delete', old.id, old.handle, old.display_name); END",
    f"CREATE TRIGGER {FTS}_au AFTER UPDATE OF handle, display_name ON offenders BEGIN "
    f"INSERT INTO {FTS}({FTS}, rowid, handle, display_name) VALUES ('delete', old.id, old.handle, old.display_name); "
    f"INSERT INTO {FTS}(rowid, handle, display_name) VALUES (new.id, new.handle, new.display_name); END",
    f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')",  # the offenders there already
]
SQLITE_DOWN = [f"DROP TRIGGER IF EXISTS {FTS}_au", f"DROP TRIGGER IF EXISTS {FTS}_ad",
               f"DROP TRIGGER IF EXISTS {FTS}_ai", f"DROP TABLE IF EXISTS {FTS}"]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in SQLITE_UP:
            op.execute(statement)
    elif bind.dialect.name == "postgresql":
        try:
            with bind.begin_nested():  # a refusal rolls back this part only
                # in public (or where it is already), not in this schema: a schema dropped with CASCADE would
                # take the extension and every other schema's indexes on it along
                op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
                schema = bind.execute(sa.text("SELECT n.nspname FROM pg_extension e JOIN pg_namespace n "
                                              "ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'")).scalar_one()
                for name, column in PG_INDEXES.items():
                    op.execute(f'CREATE INDEX {name} ON offenders USING gin ({column} "{schema}".gin_trgm_ops)')
        except Exception as exc:  # noqa: BLE001 - the search works without the indexes, only slower
            logging.getLogger("alembic").warning("pg_trgm is not available (%s): HR's offender search scans the "
                                                 "offenders", str(exc).splitlines()[0])


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_DOWN:
            op.execute(statement)
    else:
        for name in PG_INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")
