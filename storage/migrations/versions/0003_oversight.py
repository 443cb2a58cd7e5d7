"""oversight

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa
import storage.types


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('offenders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform', sa.String(length=40), nullable=False),
    sa.Column('handle', sa.String(length=200), nullable=False),
    sa.Column('profile_url', sa.Text(), nullable=True),
    sa.Column('display_name', sa.String(length=200), nullable=True),
    sa.Column('kind', sa.Enum('grieving_relative', 'aggrieved_citizen', 'professional_querulant', 'unknown', name='offender_kind', native_enum=False, length=30), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('platform', 'handle')
    )
    with op.batch_alter_table('offenders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_offenders_display_name'), ['display_name'], unique=False)
        batch_op.create_index(batch_op.f('ix_offenders_handle'), ['handle'], unique=False)

    op.create_table('case_texts',
    sa.Column('case_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('updated_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('case_id')
    )
    op.create_table('case_offenders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('offender_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('evidence_id', sa.Integer(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['evidence_id'], ['evidence.id'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['offender_id'], ['offenders.id'], ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id', 'offender_id')
    )
    with op.batch_alter_table('case_offenders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_offenders_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_offenders_offender_id'), ['offender_id'], unique=False)

    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_action_id', ['action', 'id'], unique=False)
        batch_op.create_index('ix_audit_actor_id', ['actor_id', 'id'], unique=False)
        batch_op.create_index('ix_audit_at', ['at'], unique=False)

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('closed_at', storage.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('category', sa.String(length=30), nullable=True))
        batch_op.create_index(batch_op.f('ix_cases_category'), ['category'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_platform'), ['platform'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_status'), ['status'], unique=False)

    with op.batch_alter_table('evidence', schema=None) as batch_op:
        batch_op.add_column(sa.Column('author_handle', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('author_profile_url', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('hash_basis', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('phash', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('dhash', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('text_sha256', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_evidence_text_sha256'), ['text_sha256'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('evidence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evidence_text_sha256'))
        batch_op.drop_column('text_sha256')
        batch_op.drop_column('dhash')
        batch_op.drop_column('phash')
        batch_op.drop_column('hash_basis')
        batch_op.drop_column('author_profile_url')
        batch_op.drop_column('author_handle')

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_status'))
        batch_op.drop_index(batch_op.f('ix_cases_platform'))
        batch_op.drop_index(batch_op.f('ix_cases_category'))
        batch_op.drop_column('category')
        batch_op.drop_column('closed_at')

    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_at')
        batch_op.drop_index('ix_audit_actor_id')
        batch_op.drop_index('ix_audit_action_id')

    with op.batch_alter_table('case_offenders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_offenders_offender_id'))
        batch_op.drop_index(batch_op.f('ix_case_offenders_case_id'))

    op.drop_table('case_offenders')
    op.drop_table('case_texts')
    with op.batch_alter_table('offenders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_offenders_handle'))
        batch_op.drop_index(batch_op.f('ix_offenders_display_name'))

    op.drop_table('offenders')
