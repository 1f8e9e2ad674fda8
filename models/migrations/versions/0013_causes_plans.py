"""cause analysis and corrective actions (原因分析, 整改措施), handling plans and their approval (处理方案, 审批)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import models.types

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cause_category', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('cause_text', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('plan_by', models.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('plan_status', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('plan_level', sa.Integer(), nullable=False, server_default='0'))
        batch_op.create_index(batch_op.f('ix_complaint_plan_by'), ['plan_by'], unique=False)
    op.create_table('corrective_action',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('complaint_id', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('due_at', models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('done_at', models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('done_by_id', sa.Integer(), nullable=True),
    sa.Column('done_note', sa.Text(), nullable=True),
    sa.Column('reminded_at', models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('escalated_at', models.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaint.id'], ),
    sa.ForeignKeyConstraint(['owner_id'], ['staff.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('corrective_action', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_corrective_action_complaint_id'), ['complaint_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_corrective_action_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_corrective_action_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_corrective_action_done_at'), ['done_at'], unique=False)
        batch_op.create_index('ix_corrective_action_status_due', ['status', 'due_at'], unique=False)
    op.create_table('handling_plan',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('complaint_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('submitted_by_id', sa.Integer(), nullable=False),
    sa.Column('submitted_at', models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('return_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaint.id'], ),
    sa.ForeignKeyConstraint(['submitted_by_id'], ['staff.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('handling_plan', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_handling_plan_complaint_id'), ['complaint_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('handling_plan', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_handling_plan_complaint_id'))
    op.drop_table('handling_plan')
    with op.batch_alter_table('corrective_action', schema=None) as batch_op:
        batch_op.drop_index('ix_corrective_action_status_due')
        batch_op.drop_index(batch_op.f('ix_corrective_action_done_at'))
        batch_op.drop_index(batch_op.f('ix_corrective_action_created_at'))
        batch_op.drop_index(batch_op.f('ix_corrective_action_owner_id'))
        batch_op.drop_index(batch_op.f('ix_corrective_action_complaint_id'))
    op.drop_table('corrective_action')
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaint_plan_by'))
        batch_op.drop_column('plan_level')
        batch_op.drop_column('plan_status')
        batch_op.drop_column('plan_by')
        batch_op.drop_column('cause_text')
        batch_op.drop_column('cause_category')
