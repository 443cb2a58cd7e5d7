"""SQLite's full-text index: prefix indexes for word beginnings of 5 to 16 letters too (issue 11.8)

HR's words are matched as word beginnings. Migration 0006 gave FTS5 prefix indexes for 2–4 letters; a
longer beginning ("kommunen", "skændsel": a whole word, as people type) had none, so FTS5 merged the
lists of every word with that beginning, of every case, before the first row: about 2.5 ms per search
statement at 50,000 cases and growing with them, against 0.3 ms with the index (measured on the HR
benchmark's data: the index grew from 93 to 132 MB for 100 MB of text). Beyond 16 letters the merge stays.
The index is rebuilt from case_texts (a one-time cost: seconds per 50,000 cases). The statements are
migration 0006's with other prefix lengths: a migration keeps its own copy, as history.

Revision ID: 0017
Revises: 0016
"""
from alembic import op


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

FTS = "case_text_fts"
FTS_COLUMNS = "body, content='case_texts', content_rowid='case_id', tokenize='unicode61 remove_diacritics 0'"
PREFIXES_BEFORE = "2 3 4"
PREFIXES = " ".join(str(n) for n in range(2, 17))  #: word beginnings of 2 to 16 letters
TRIGGERS = [
    f"CREATE TRIGGER {FTS}_ai AFTER INSERT ON case_texts BEGIN "
    f"INSERT INTO {FTS}(rowid, body) VALUES (new.case_id, new.body); END",
    f"CREATE TRIGGER {FTS}_ad AFTER DELETE ON case_texts BEGIN "
    f"INSERT INTO {FTS}({FTS}, rowid, body) VALUES ('delete', old.case_id, old.body); END",
    f"CREATE TRIGGER {FTS}_au AFTER UPDATE ON case_texts BEGIN "
    f"INSERT INTO {FTS}({FTS}, rowid, body) VALUES ('delete', old.case_id, old.body); "
    f"INSERT INTO {FTS}(rowid, body) VALUES (new.case_id, new.body); END",
]


def _rebuild(prefixes: str) -> None:
    for name in ("ai", "ad", "au"):
        op.execute(f"DROP TRIGGER IF EXISTS {FTS}_{name}")
    op.execute(f"DROP TABLE IF EXISTS {FTS}")
    op.execute(f"CREATE VIRTUAL TABLE {FTS} USING fts5({FTS_COLUMNS}, prefix='{prefixes}')")
    for statement in TRIGGERS:
        op.execute(statement)
    op.execute(f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')")
    op.execute(f"INSERT INTO {FTS}({FTS}) VALUES ('optimize')")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":  # PostgreSQL's tsvector index has no such limit
        _rebuild(PREFIXES)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(PREFIXES_BEFORE)
