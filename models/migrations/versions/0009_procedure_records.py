"""procedure records: SLA restart on reopen, complex Ⅲ tickets, rating review, validity, closing by hand,
who called back and how

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 18:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import models.types

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sla_started_at', models.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('complex', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('reviewed_at', models.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('reviewed_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('review_note', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('invalid_reason', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('invalid_note', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('close_note', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('close_held_at', models.types.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('callback_attempt', schema=None) as batch_op:
        batch_op.add_column(sa.Column('method', sa.String(length=16), nullable=False, server_default='telegram'))
        batch_op.add_column(sa.Column('caller_id', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('callback_attempt', schema=None) as batch_op:
        batch_op.drop_column('caller_id')
        batch_op.drop_column('method')
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        for name in ('close_held_at', 'close_note', 'invalid_note', 'invalid_reason', 'review_note',
                     'reviewed_by_id', 'reviewed_at', 'complex', 'sla_started_at'):
            batch_op.drop_column(name)
