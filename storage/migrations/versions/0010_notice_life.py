"""the platform notice's life: when the platform confirmed receipt and when it told its decision

``receipt_at`` is when the platform confirmed receiving the notice (DSA art. 16(4)); ``decided_at`` when
it told the notifier its decision (art. 16(5)) — the start of the 6-month internal-complaint clock
(art. 20(1)). Both only on ladder rungs; NULL: not (yet) recorded.

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

import storage.types


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('case_steps', schema=None) as batch_op:
        batch_op.add_column(sa.Column('receipt_at', storage.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('decided_at', storage.types.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('case_steps', schema=None) as batch_op:
        batch_op.drop_column('decided_at')
        batch_op.drop_column('receipt_at')
