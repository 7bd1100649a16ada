"""chat migrations

Revision ID: 0800
Revises: 0700
Create Date: 2026-11-24 12:30:00

Groups Telegram upgraded to supergroups, so config.toml's old ids are read as the new ones.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.platform.columns

revision: str = '0800'
down_revision: str | None = '0700'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'chatmigration',
        sa.Column('old_chat_id', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('new_chat_id', sa.BigInteger(), nullable=False),
        sa.Column('migrated_at', bot.platform.columns.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('old_chat_id'),
    )


def downgrade() -> None:
    op.drop_table('chatmigration')
