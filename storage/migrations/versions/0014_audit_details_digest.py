"""audit events carry the SHA-256 of their details, which their hash covers instead of the details, so
retention can erase the details later and the chain still verifies (issue 16)

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('details_sha256', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_column('details_sha256')
