"""retention: when a ticket's personal data was removed; the classifier's close calls

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-02 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import models.types

revision = '0007'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.add_column(sa.Column('anonymised_at', models.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('runner_up', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('uncertain', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.drop_column('uncertain')
        batch_op.drop_column('runner_up')
        batch_op.drop_column('anonymised_at')
