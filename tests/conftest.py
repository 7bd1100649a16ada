"""Shared fixtures: settings, a clock, and a migrated database on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from bot.platform.clock import FakeClock
from bot.platform.config import Settings
from bot.platform.config_loading import load_settings
from bot.platform.db import Database

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_DSN = os.environ.get("APEL_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
REQUIRE_PG = os.environ.get("APEL_REQUIRE_POSTGRES") == "1"


@pytest.fixture
def settings() -> Settings:
    """The example config: one WITA unit (lapas-palu) and one WIB unit (lapas-cilacap)."""
    return load_settings(ROOT / "config.example.toml")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2024, 11, 25, 12, 0, tzinfo=UTC))


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tpl") / "template.db"
    db = Database(f"sqlite:///{path}")
    db.upgrade()
    db.dispose()
    return path


def _pg_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_DSN, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


@pytest.fixture(scope="session")
def _pg_url():
    if not _pg_available():
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL required (APEL_REQUIRE_POSTGRES=1) but {PG_ADMIN_DSN} is down")
        pytest.skip("PostgreSQL not reachable")
    name = f"apel_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_DSN.rsplit("/", 1)[0] + "/" + name
    db = Database(url)
    db.upgrade()
    db.dispose()
    yield url
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _truncate_all(db: Database) -> None:
    with db.engine.begin() as conn:
        names = conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                 "AND tablename <> 'alembic_version'")
        ).scalars().all()
        if names:
            conn.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request, tmp_path, _sqlite_template):
    """A migrated, empty database; each test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "apel.db"
        shutil.copy(_sqlite_template, path)
        database = Database(f"sqlite:///{path}")
    else:
        database = _empty_pg(request)
    yield database
    database.dispose()


@pytest.fixture
def pg_db(request):
    """PostgreSQL only, for tests whose subject is PostgreSQL itself (marked `postgres`)."""
    database = _empty_pg(request)
    yield database
    database.dispose()


def _empty_pg(request) -> Database:  # noqa: ANN001
    database = Database(request.getfixturevalue("_pg_url"))
    _truncate_all(database)
    return database


@pytest.fixture
def sqlite_db(tmp_path, _sqlite_template):
    """SQLite only, for tests whose subject is not the database."""
    path = tmp_path / "apel.db"
    shutil.copy(_sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    yield database
    database.dispose()
