"""tally base

Revision ID: 1200
Revises: 1100
Create Date: 2026-11-29 21:45:00

The "dari N" a briefing shows, so leave recorded while its apel is open edits the tally too.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '1200'
down_revision: str | None = '1100'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('briefing') as batch:
        batch.add_column(sa.Column('tally_base', sa.Integer(), nullable=False,
                                   server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('briefing') as batch:
        batch.drop_column('tally_base')
