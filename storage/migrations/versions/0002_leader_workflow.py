"""leader workflow

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa
import storage.types


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_sha256')
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('case_clocks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('set_by_id', sa.Integer(), nullable=False),
    sa.Column('set_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['set_by_id'], ['users.id'], ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id', 'name')
    )
    with op.batch_alter_table('case_clocks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_clocks_case_id'), ['case_id'], unique=False)

    op.create_table('letters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('step_id', sa.String(length=60), nullable=True),
    sa.Column('template_id', sa.String(length=60), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sent_by_id', sa.Integer(), nullable=True),
    sa.Column('sha256_at_send', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['sent_by_id'], ['users.id'], ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('letters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_letters_case_id'), ['case_id'], unique=False)

    op.create_table('notifications_sent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('recipient_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('sent_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['recipient_id'], ['users.id'], ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    with op.batch_alter_table('notifications_sent', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notifications_sent_case_id'), ['case_id'], unique=False)

    op.create_table('case_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('step_id', sa.String(length=60), nullable=False),
    sa.Column('state', sa.Enum('todo', 'in_progress', 'done', 'skipped', 'not_applicable', name='step_state', native_enum=False, length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('done_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sent_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('channel', sa.String(length=200), nullable=True),
    sa.Column('platform_ref', sa.String(length=200), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('statement_of_reasons', sa.Text(), nullable=True),
    sa.Column('verified_by_evidence_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['verified_by_evidence_id'], ['evidence.id'], ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id', 'step_id')
    )
    with op.batch_alter_table('case_steps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_steps_case_id'), ['case_id'], unique=False)

    op.create_table('rechecks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('baseline_evidence_id', sa.Integer(), nullable=False),
    sa.Column('evidence_id', sa.Integer(), nullable=True),
    sa.Column('verdict', sa.String(length=20), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['baseline_evidence_id'], ['evidence.id'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['evidence_id'], ['evidence.id'], ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('rechecks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rechecks_baseline_evidence_id'), ['baseline_evidence_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rechecks_case_id'), ['case_id'], unique=False)

    op.create_table('step_attachments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_step_id', sa.Integer(), nullable=False),
    sa.Column('evidence_id', sa.Integer(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('filename', sa.String(length=255), nullable=True),
    sa.Column('media_type', sa.String(length=100), nullable=True),
    sa.Column('size', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_step_id'], ['case_steps.id'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['evidence_id'], ['evidence.id'], ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('step_attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_step_attachments_case_step_id'), ['case_step_id'], unique=False)

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('platform', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('author_known', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('private_information_disclosed', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('defamatory', sa.Boolean(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('defamatory')
        batch_op.drop_column('private_information_disclosed')
        batch_op.drop_column('author_known')
        batch_op.drop_column('platform')

    with op.batch_alter_table('step_attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_step_attachments_case_step_id'))

    op.drop_table('step_attachments')
    with op.batch_alter_table('rechecks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rechecks_case_id'))
        batch_op.drop_index(batch_op.f('ix_rechecks_baseline_evidence_id'))

    op.drop_table('rechecks')
    with op.batch_alter_table('case_steps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_steps_case_id'))

    op.drop_table('case_steps')
    with op.batch_alter_table('notifications_sent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notifications_sent_case_id'))

    op.drop_table('notifications_sent')
    with op.batch_alter_table('letters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_letters_case_id'))

    op.drop_table('letters')
    with op.batch_alter_table('case_clocks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_clocks_case_id'))

    op.drop_table('case_clocks')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))

    op.drop_table('api_tokens')
