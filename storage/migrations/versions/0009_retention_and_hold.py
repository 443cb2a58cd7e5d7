"""retention and legal hold (issue 16): a case can be held (never erased) and carries when and by which
rule it was erased; an offender record likewise

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa

import storage.types
from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hold_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('hold_at', storage.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('hold_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('erased_at', storage.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('erased_rule', sa.String(length=60), nullable=True))
        batch_op.create_foreign_key('fk_cases_hold_by_id_users', 'users', ['hold_by_id'], ['id'], ondelete='RESTRICT')
    with op.batch_alter_table('offenders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('erased_at', storage.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('erased_rule', sa.String(length=60), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('offenders', schema=None) as batch_op:
        batch_op.drop_column('erased_rule')
        batch_op.drop_column('erased_at')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_constraint('fk_cases_hold_by_id_users', type_='foreignkey')
        batch_op.drop_column('erased_rule')
        batch_op.drop_column('erased_at')
        batch_op.drop_column('hold_by_id')
        batch_op.drop_column('hold_at')
        batch_op.drop_column('hold_reason')
