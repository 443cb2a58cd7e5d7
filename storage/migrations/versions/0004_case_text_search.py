"""full-text search over case texts

SQLite: an FTS5 index ``case_text_fts`` over ``case_texts`` (external content, kept in step by
triggers; unicode61 without diacritic folding, so "år" and "ar" stay different words).
PostgreSQL: a stored generated column ``body_tsv`` = ``to_tsvector('danish', body)`` with a GIN
index (stored, so checking one row is cheap and a common word can stop after one page).
Both are invisible to the models on purpose (they are search indexes, not data): the drift check
skips them by name (tracker.oversight.search.is_search_index_object).
Existing cases get their description as searchable text.

Revision ID: 0004
Revises: 0003
"""
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

FTS = "case_text_fts"
PG_COLUMN = "body_tsv"
PG_INDEX = "ix_case_texts_body_tsv"

SQLITE_UP = [
    f"CREATE VIRTUAL TABLE {FTS} USING fts5(body, content='case_texts', content_rowid='case_id', "
    "tokenize='unicode61 remove_diacritics 0')",
    f"CREATE TRIGGER {FTS}_ai AFTER INSERT ON case_texts BEGIN "
    f"INSERT INTO {FTS}(rowid, body) VALUES (new.case_id, new.body); END",
    f"CREATE TRIGGER {FTS}_ad AFTER DELETE ON case_texts BEGIN "
    f"INSERT INTO {FTS}({FTS}, rowid, body) VALUES ('delete', old.case_id, old.body); END",
    f"CREATE TRIGGER {FTS}_au AFTER UPDATE ON case_texts BEGIN "
    f"INSERT INTO {FTS}({FTS}, rowid, body) VALUES ('delete', old.case_id, old.body); "
    f"INSERT INTO {FTS}(rowid, body) VALUES (new.case_id, new.body); END",
]
SQLITE_DOWN = [f"DROP TRIGGER IF EXISTS {FTS}_au", f"DROP TRIGGER IF EXISTS {FTS}_ad",
               f"DROP TRIGGER IF EXISTS {FTS}_ai", f"DROP TABLE IF EXISTS {FTS}"]
BACKFILL = ("INSERT INTO case_texts (case_id, body, updated_at) "
            "SELECT id, description, created_at FROM cases "
            "WHERE description <> '' AND id NOT IN (SELECT case_id FROM case_texts)")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in SQLITE_UP:
            op.execute(statement)
        op.execute(BACKFILL)  # the triggers index it
        op.execute(f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')")  # rows that were there before
    elif dialect == "postgresql":
        op.execute(BACKFILL)
        op.execute(f"ALTER TABLE case_texts ADD COLUMN {PG_COLUMN} tsvector "
                   "GENERATED ALWAYS AS (to_tsvector('danish'::regconfig, body)) STORED")
        op.execute(f"CREATE INDEX {PG_INDEX} ON case_texts USING gin ({PG_COLUMN})")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in SQLITE_DOWN:
            op.execute(statement)
    elif dialect == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {PG_INDEX}")
        op.execute(f"ALTER TABLE case_texts DROP COLUMN IF EXISTS {PG_COLUMN}")
