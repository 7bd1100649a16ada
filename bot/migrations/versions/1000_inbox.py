"""inbox

Revision ID: 1000
Revises: 0900
Create Date: 2026-11-29 21:15:00

Every incoming update is stored before Telegram is told it arrived (bot/delivery/inbox.py).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import bot.platform.columns

revision: str = '1000'
down_revision: str | None = '0900'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'inboxupdate',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('update_key', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column('update_id', sa.BigInteger(), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('received_at', bot.platform.columns.UTCDateTime(), nullable=False),
        sa.Column('claimed_by', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
        sa.Column('claimed_until', bot.platform.columns.UTCDateTime(), nullable=True),
        sa.Column('handled_at', bot.platform.columns.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('update_key'),
    )
    op.create_index('ix_inbox_open', 'inboxupdate', ['handled_at', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_inbox_open', table_name='inboxupdate')
    op.drop_table('inboxupdate')
