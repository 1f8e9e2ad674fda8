"""majors: owner, reply and resolution deadlines; monthly report review (draft, summary); early warnings

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import models.types

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.add_column(sa.Column('major_at', models.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('major_owner_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('major_reply_by', models.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('major_resolve_by', models.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('major_replied_at', models.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('major_reply_level', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('major_resolve_level', sa.Integer(), nullable=False, server_default='0'))
        batch_op.create_index(batch_op.f('ix_complaint_major_owner_id'), ['major_owner_id'], unique=False)
    with op.batch_alter_table('report_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=16), nullable=False, server_default='sent'))
        batch_op.add_column(sa.Column('summary', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('approved_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('approved_at', models.types.UTCDateTime(timezone=True), nullable=True))
    op.create_table('early_warning',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('matter', sa.Text(), nullable=False),
    sa.Column('advice', sa.Text(), nullable=False),
    sa.Column('notified', sa.Text(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('at', models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('complaint_ids', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['staff.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('early_warning', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_early_warning_author_id'), ['author_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_early_warning_at'), ['at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('early_warning', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_early_warning_at'))
        batch_op.drop_index(batch_op.f('ix_early_warning_author_id'))
    op.drop_table('early_warning')
    with op.batch_alter_table('report_run', schema=None) as batch_op:
        batch_op.drop_column('approved_at')
        batch_op.drop_column('approved_by_id')
        batch_op.drop_column('summary')
        batch_op.drop_column('status')
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaint_major_owner_id'))
        batch_op.drop_column('major_resolve_level')
        batch_op.drop_column('major_reply_level')
        batch_op.drop_column('major_replied_at')
        batch_op.drop_column('major_resolve_by')
        batch_op.drop_column('major_reply_by')
        batch_op.drop_column('major_owner_id')
        batch_op.drop_column('major_at')
