"""blob_versions: the S3 object version of each evidence blob, recorded at write and read back (issue 15)

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

import storage.types

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'blob_versions',
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('version_id', sa.String(length=1024), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('lock_mode', sa.String(length=20), nullable=True),
        sa.Column('retain_until', storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('stored_at', storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('sha256'),
    )


def downgrade() -> None:
    op.drop_table('blob_versions')
