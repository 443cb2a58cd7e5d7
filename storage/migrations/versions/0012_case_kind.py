"""cases carry the kind of episode: url (content online) or phone_call, letter, in_person, email, sms, other

Existing cases are all URL/upload reports: ``url``. The employee's statement is evidence of kind
``statement`` (evidence.kind is a free String(10); no change there).

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=20), nullable=False, server_default='url'))


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('kind')
