"""sessions that end, API token expiry, login throttling

users: ``session_generation`` (raised to end every session of a user), ``last_login_at``,
``failed_logins`` and ``last_failed_login_at`` (told at the next login). api_tokens: ``expires_at``
(NULL for tokens issued before). login_throttle: failure counters for growing login delays.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("session_generation", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("last_login_at", UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("last_failed_login_at", UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("expires_at", UTCDateTime(timezone=True), nullable=True))
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", UTCDateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("login_throttle")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("expires_at")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("last_failed_login_at")
        batch.drop_column("failed_logins")
        batch.drop_column("last_login_at")
        batch.drop_column("session_generation")
