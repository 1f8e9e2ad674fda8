"""webhook updates seen (deduplication of Telegram's retries)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.types

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('webhook_update',
    sa.Column('update_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('claimed_at', models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('done_at', models.types.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('update_id')
    )
    with op.batch_alter_table('webhook_update', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_update_done_at'), ['done_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('webhook_update', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_update_done_at'))
    op.drop_table('webhook_update')
