"""apel status counts

Revision ID: 0700
Revises: 0600
Create Date: 2026-11-24 12:00:00

Closed apel keep per-group counts of each status so reports over many units and months add up
a few rows per apel. Existing closed apel start uncounted (counted_version -1): the reports
classify them live until `apel-bot db upgrade` or the running bot counts them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0700'
down_revision: str | None = '0600'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STALE = sa.text("state = 'closed' AND counted_version <> change_version")


def upgrade() -> None:
    op.create_table(
        'apelstatuscount',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('apel_id', sa.Integer(), nullable=False),
        sa.Column('regu_id', sa.Integer(), nullable=True),
        sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['apel_id'], ['apel.id'], ),
        sa.ForeignKeyConstraint(['regu_id'], ['regu.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('apelstatuscount', schema=None) as batch_op:
        batch_op.create_index('ix_apelstatuscount_apel_id', ['apel_id'], unique=False)
    with op.batch_alter_table('apel', schema=None) as batch_op:
        batch_op.add_column(sa.Column('change_version', sa.Integer(), server_default='0',
                                      nullable=False))
        batch_op.add_column(sa.Column('counted_version', sa.Integer(), server_default='-1',
                                      nullable=False))
        batch_op.create_index('ix_apel_uncounted', ['id'], unique=False,
                              postgresql_where=STALE, sqlite_where=STALE)


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): batch mode would recreate `apel`,
    # which the foreign keys of its history forbid.
    op.drop_index('ix_apel_uncounted', table_name='apel')
    op.drop_column('apel', 'counted_version')
    op.drop_column('apel', 'change_version')
    with op.batch_alter_table('apelstatuscount', schema=None) as batch_op:
        batch_op.drop_index('ix_apelstatuscount_apel_id')
    op.drop_table('apelstatuscount')
