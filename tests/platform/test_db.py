"""Migrations match the models, and the constraints forbid doubles."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from bot.apel.models import Apel
from bot.migrations import tables
from bot.org.models import Unit
from bot.org.units import period_row, sync_config
from bot.platform.db import IDLE_IN_TRANSACTION_S


def test_migrations_match_models(db):
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), tables.metadata)
    assert diff == [], f"models and migrations differ; add an Alembic revision: {diff}"
    db.require_migrated()


def test_sqlite_pragmas(sqlite_db):
    with sqlite_db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10000


@pytest.mark.postgres
def test_a_transaction_left_idle_is_ended_by_postgresql(pg_db):
    """A frozen process must not hold row locks for ever: its pool sessions end a transaction
    left idle (bot/platform/db.py IDLE_IN_TRANSACTION_S), so a standby can take over."""
    with pg_db.engine.connect() as conn:
        shown = conn.exec_driver_sql("SHOW idle_in_transaction_session_timeout").scalar()
    assert shown == f"{IDLE_IN_TRANSACTION_S}s"


def test_sync_config_is_idempotent(db, settings, clock):
    db.call(lambda s: sync_config(s, settings, clock.now()))
    db.call(lambda s: sync_config(s, settings, clock.now()))
    units = db.call(lambda s: s.exec(select(Unit)).all())
    assert sorted(u.code for u in units) == ["lapas-cilacap", "lapas-palu"]


def test_apel_unique_per_unit_date_slot(db, settings, clock):
    db.call(lambda s: sync_config(s, settings, clock.now()))

    def add_apel(s):
        unit = s.exec(select(Unit).where(Unit.code == "lapas-palu")).one()
        now = clock.now()
        s.add(Apel(unit_id=unit.id, duty_date=date(2024, 11, 25), slot="pagi",
                   period_id=period_row(s, settings).id, scheduled_at=now, late_after_at=now,
                   deadline_at=now, state="open"))

    db.call(add_apel)
    with pytest.raises(IntegrityError):
        db.call(add_apel)


def test_the_last_migrations_go_down_and_up_with_data(db, settings):
    """0700 (kept counts) and 0800 (chat migrations) on a database with closed apel: down to
    0600 and up again keeps the data; the apel are counted afterwards, as `db upgrade` does."""
    from alembic import command

    from bot.apel import counts as apel_counts
    from bot.platform.db import alembic_config
    from tests.report_factories import seed_palu

    now = datetime(2024, 11, 26, 23, 10, tzinfo=UTC)
    db.call(lambda s: seed_palu(s, settings, now))
    with db.engine.begin() as conn:
        cfg = alembic_config(db.url)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0600")
    assert db.current_revision() == "0600"
    db.upgrade()
    assert db.current_revision() == db.head_revision()
    assert db.call(apel_counts.recount_stale) == 2  # the closed pagi and siang
    assert db.read(lambda s: len(s.exec(select(Apel).where(apel_counts.counted())).all())) == 2
