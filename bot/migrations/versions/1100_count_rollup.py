"""apel counts carry their unit, date and slot

Revision ID: 1100
Revises: 1000
Create Date: 2026-11-29 21:40:00

A national year of /rekap adds up ~2 M ApelStatusCount rows; joining each to its apel for the
unit and date cost a second on PostgreSQL (issue 17). The rows now carry them (they never
change for an apel), indexed by (unit_id, duty_date). Existing rows are filled from their apel.
PostgreSQL also keeps statistics on (counted_version = change_version), so the planner knows
how few apel are read live; the partial index of those is rewritten in that form.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '1100'
down_revision: str | None = '1000'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILL_PG = """
UPDATE apelstatuscount SET unit_id = apel.unit_id, duty_date = apel.duty_date, slot = apel.slot
FROM apel WHERE apel.id = apelstatuscount.apel_id
"""
FILL = """
UPDATE apelstatuscount SET
  unit_id = (SELECT unit_id FROM apel WHERE apel.id = apelstatuscount.apel_id),
  duty_date = (SELECT duty_date FROM apel WHERE apel.id = apelstatuscount.apel_id),
  slot = (SELECT slot FROM apel WHERE apel.id = apelstatuscount.apel_id)
"""
# The partial index of the stale apel, in the form bot/apel/counts.py: stale() renders.
OLD_STALE = sa.text("state = 'closed' AND counted_version <> change_version")
STALE_PG = sa.text("state = 'closed' AND (counted_version = change_version) IS NOT true")
STALE_SQLITE = sa.text("state = 'closed' AND (counted_version = change_version) IS NOT 1")
STATISTICS = "CREATE STATISTICS apel_counted ON ((counted_version = change_version)) FROM apel"


def upgrade() -> None:
    # Plain ADD COLUMN (no batch mode): the table stays, only nullable columns are added.
    op.add_column('apelstatuscount', sa.Column('unit_id', sa.Integer(), nullable=True))
    op.add_column('apelstatuscount', sa.Column('duty_date', sa.Date(), nullable=True))
    op.add_column('apelstatuscount',
                  sa.Column('slot', sqlmodel.sql.sqltypes.AutoString(length=5), nullable=True))
    postgres = op.get_bind().dialect.name == "postgresql"
    op.execute(FILL_PG if postgres else FILL)
    op.create_index('ix_apelstatuscount_unit_day', 'apelstatuscount', ['unit_id', 'duty_date'])
    _stale_index(STALE_PG, STALE_SQLITE)
    if postgres and op.get_bind().dialect.server_version_info >= (14,):
        # How many apel have current counts (nearly all): the planner cannot tell from
        # `counted_version = change_version` itself (bot/apel/counts.py: stale).
        op.execute(STATISTICS)
        op.execute("ANALYZE apel")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP STATISTICS IF EXISTS apel_counted")
    _stale_index(OLD_STALE, OLD_STALE)
    op.drop_index('ix_apelstatuscount_unit_day', table_name='apelstatuscount')
    op.drop_column('apelstatuscount', 'slot')
    op.drop_column('apelstatuscount', 'duty_date')
    op.drop_column('apelstatuscount', 'unit_id')


def _stale_index(postgresql_where: sa.TextClause, sqlite_where: sa.TextClause) -> None:
    op.drop_index('ix_apel_uncounted', table_name='apel')
    op.create_index('ix_apel_uncounted', 'apel', ['id'], postgresql_where=postgresql_where,
                    sqlite_where=sqlite_where)
