"""Indexes for an offender's access request (GDPR art. 15, tracker.privacy.offender_access) at 50,000 cases

The request read every offender (its own records by any part of handle, name or profile address; the other
offenders' names, to redact them) and every capture (by its author's handle). Now:

- ``ix_offenders_display_name_lower`` on ``lower(trim(display_name))`` (and on PostgreSQL ``ix_offenders_handle_c``,
  the handle in binary order): an offender named in a handout's excerpts is looked up by the whole name, or by
  its first words (tracker.privacy.name_lookup). SQLite's lower() folds A–Z only; the lookup asks every other
  letter in both cases.
- the profile address by any part: SQLite an FTS5 table ``offender_url_fts`` with the trigram tokenizer
  (external content, triggers, as migration 0016's), PostgreSQL a pg_trgm GIN index (where pg_trgm is there).
- PostgreSQL: a pg_trgm GIN index on the cases' searchable text, for the cases that mention the person (a
  regular expression; the Danish full-text index drops words such as "hans" and reads a web address as one
  word). SQLite finds them through its full-text index (migration 0004).
- ``ix_evidence_author`` on ``lower(ltrim(author_handle, '@'))``: the captures whose author is the person.

Like migrations 0004 and 0016, these are search indexes invisible to the models; the drift check skips them by
name (tracker.oversight.search.is_search_index_object).

Revision ID: 0018
Revises: 0017
"""
import logging

import sqlalchemy as sa
from alembic import op


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

FTS = "offender_url_fts"
PG_TRGM = {"ix_offenders_profile_url_trgm": ("offenders", "profile_url"), "ix_case_texts_body_trgm": ("case_texts", "body")}
INDEXES = {  # PostgreSQL: in binary order ("C"), for the ranges of names that begin with some words
    "sqlite": ["CREATE INDEX ix_offenders_display_name_lower ON offenders (lower(trim(display_name)))"],
    "postgresql": ['CREATE INDEX ix_offenders_display_name_lower ON offenders ((lower(trim(display_name))) COLLATE "C")',
                   'CREATE INDEX ix_offenders_handle_c ON offenders (handle COLLATE "C")'],
}
EVIDENCE_INDEX = "CREATE INDEX ix_evidence_author ON evidence (lower(ltrim(author_handle, '@')))"
SQLITE_UP = [
    f"CREATE VIRTUAL TABLE {FTS} USING fts5(profile_url, content='offenders', content_rowid='id', "
    "tokenize='trigram case_sensitive 0')",
    f"CREATE TRIGGER {FTS}_ai AFTER INSERT ON offenders BEGIN "
    f"INSERT INTO {FTS}(rowid, profile_url) VALUES (new.id, new.profile_url); END",
    f"CREATE TRIGGER {FTS}_ad AFTER DELETE ON offenders BEGIN "
    f"INSERT INTO {FTS}({FTS}, rowid, profile_url) VALUES ('delete', old.id, old.profile_url); END",
    f"CREATE TRIGGER {FTS}_au AFTER UPDATE OF profile_url ON offenders BEGIN "
    f"INSERT INTO {FTS}({FTS}, rowid, profile_url) VALUES ('delete', old.id, old.profile_url); "
    f"INSERT INTO {FTS}(rowid, profile_url) VALUES (new.id, new.profile_url); END",
    f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')",  # the offenders there already
]
SQLITE_DOWN = [f"DROP TRIGGER IF EXISTS {FTS}_au", f"DROP TRIGGER IF EXISTS {FTS}_ad",
               f"DROP TRIGGER IF EXISTS {FTS}_ai", f"DROP TABLE IF EXISTS {FTS}"]


def upgrade() -> None:
    bind = op.get_bind()
    for statement in [*INDEXES[bind.dialect.name], EVIDENCE_INDEX]:
        op.execute(statement)
    if bind.dialect.name == "sqlite":
        for statement in SQLITE_UP:
            op.execute(statement)
    elif bind.dialect.name == "postgresql":
        schema = bind.execute(sa.text("SELECT n.nspname FROM pg_extension e JOIN pg_namespace n "
                                      "ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'")).scalar()
        if schema is None:  # migration 0016 could not create it: the request scans as before
            logging.getLogger("alembic").warning("pg_trgm is not available: the offender access request scans "
                                                 "the offenders' profile addresses and the cases' texts")
        else:
            for name, (table, column) in PG_TRGM.items():
                op.execute(f'CREATE INDEX {name} ON {table} USING gin ({column} "{schema}".gin_trgm_ops)')


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_DOWN:
            op.execute(statement)
    else:
        for name in PG_TRGM:
            op.execute(f"DROP INDEX IF EXISTS {name}")
    op.execute("DROP INDEX IF EXISTS ix_offenders_handle_c")
    op.execute("DROP INDEX IF EXISTS ix_evidence_author")
    op.execute("DROP INDEX IF EXISTS ix_offenders_display_name_lower")
