"""export jobs: case packages and PDF reports built by a job, with progress, then downloaded;
SQLite's full-text index gets prefix indexes; a covering index for HR's offender search

Every search word is matched as a word beginning ("trus" finds "trussel", "trusler"). Without a
prefix index FTS5 merges the lists of every word with that beginning before it can return the
first row, so a short common beginning took time in proportion to the number of cases (135 ms at
50,000 cases for "trus"); with prefix indexes for 2–4 letters it is one list, read newest first
(about 1 ms). The index is rebuilt from case_texts (a one-time cost).

Revision ID: 0006
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

import storage.types

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


FTS = "case_text_fts"
FTS_COLUMNS = "body, content='case_texts', content_rowid='case_id', tokenize='unicode61 remove_diacritics 0'"
TRIGGERS = [
    f"CREATE TRIGGER {FTS}_ai AFTER INSERT ON case_texts BEGIN "
    f"INSERT INTO {FTS}(rowid, body) VALUES (new.case_id, new.body); END",
    f"CREATE TRIGGER {FTS}_ad AFTER DELETE ON case_texts BEGIN "
    f"INSERT INTO {FTS}({FTS}, rowid, body) VALUES ('delete', old.case_id, old.body); END",
    f"CREATE TRIGGER {FTS}_au AFTER UPDATE ON case_texts BEGIN "
    f"INSERT INTO {FTS}({FTS}, rowid, body) VALUES ('delete', old.case_id, old.body); "
    f"INSERT INTO {FTS}(rowid, body) VALUES (new.case_id, new.body); END",
]


def _rebuild_fts(options: str) -> None:
    for name in ("au", "ad", "ai"):
        op.execute(f"DROP TRIGGER IF EXISTS {FTS}_{name}")
    op.execute(f"DROP TABLE IF EXISTS {FTS}")
    op.execute(f"CREATE VIRTUAL TABLE {FTS} USING fts5({FTS_COLUMNS}{options})")
    for statement in TRIGGERS:
        op.execute(statement)
    op.execute(f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')")
    op.execute(f"INSERT INTO {FTS}({FTS}) VALUES ('optimize')")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_fts(", prefix='2 3 4'")
    op.create_table(
        "export_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("evidence_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=False),
        sa.Column("via", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("step", sa.String(length=20), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(length=200), nullable=True),
        sa.Column("lease_expires_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("file_name", sa.String(length=200), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("files", sa.Integer(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("served_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["evidence_id"], ["evidence.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["requested_by_id"], ["users.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_export_jobs_case_id", "export_jobs", ["case_id"])
    op.create_index("ix_export_jobs_requested_by_id", "export_jobs", ["requested_by_id"])
    op.create_index("ix_export_jobs_state", "export_jobs", ["state"])
    # HR's search by offender: the not-dismissed cases of the matching offenders from the index alone
    op.create_index("ix_case_offenders_offender_state_case", "case_offenders", ["offender_id", "state", "case_id"])


def downgrade() -> None:
    op.drop_index("ix_case_offenders_offender_state_case", table_name="case_offenders")
    for name in ("ix_export_jobs_state", "ix_export_jobs_requested_by_id", "ix_export_jobs_case_id"):
        op.drop_index(name, table_name="export_jobs")
    op.drop_table("export_jobs")
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_fts("")
