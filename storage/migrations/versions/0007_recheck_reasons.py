"""re-check verdicts carry their reason, and a leader's decision on an uncertain one names the leader

``reason_code`` is the stable code of why Værn reached the verdict (shown in Danish on the case
page, in English in the API); ``reason`` the English sentence stored with it. ``decided_by_id`` is
the leader who decided an ``uncertain`` re-check (NULL: the rules decided).

Revision ID: 0007
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('rechecks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reason_code', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('decided_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_rechecks_decided_by_id_users', 'users', ['decided_by_id'], ['id'],
                                    ondelete='RESTRICT')


def downgrade() -> None:
    with op.batch_alter_table('rechecks', schema=None) as batch_op:
        batch_op.drop_constraint('fk_rechecks_decided_by_id_users', type_='foreignkey')
        batch_op.drop_column('decided_by_id')
        batch_op.drop_column('reason')
        batch_op.drop_column('reason_code')
