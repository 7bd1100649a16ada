"""service lease

Revision ID: 0900
Revises: 0800
Create Date: 2026-11-24 13:00:00

One `apel-bot run` per database (bot/platform/instance_lease.py).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import bot.platform.columns

revision: str = '0900'
down_revision: str | None = '0800'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'servicelease',
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column('holder', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column('host', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('pid', sa.Integer(), nullable=False),
        sa.Column('heartbeat_at', bot.platform.columns.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )


def downgrade() -> None:
    op.drop_table('servicelease')
