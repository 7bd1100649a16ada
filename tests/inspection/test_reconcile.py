"""`verify` reconciles every operative table with the chain: a row deleted, a row added, or a
field changed behind the application's back is reported with table, row id and seq."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from bot.audit.keys import load_signing_key
from bot.inspection.tables import TABLES
from bot.inspection.verify import verify_database
from tests.audit.test_audit_world import build_world

ORIGIN = "apel-bot"


@pytest.fixture
def world(db, settings, tmp_path):
    w = build_world(db, settings)
    key = load_signing_key(tmp_path / "audit.key", ORIGIN)
    return db, w, [key.verifier]


def _verify(db, keys):  # noqa: ANN001, ANN202
    return verify_database(db, keys=keys, origin=ORIGIN)


@dataclass(frozen=True)
class Tamper:
    table: str
    column: str  # the field changed
    value: Any  # new value, or a callable of the old one
    where: str = "1=1"  # which row to pick (the lowest id matching)
    insert: dict[str, Any] = field(default_factory=dict)  # overrides for an inserted copy


def _later(days: int):  # noqa: ANN202
    return lambda old: (date.fromisoformat(str(old)[:10]) + timedelta(days=days))


def _earlier(old):  # noqa: ANN001, ANN202 (a datetime, or SQLite's text of one)
    return (old if isinstance(old, datetime) else datetime.fromisoformat(old)) - timedelta(
        minutes=20)


TAMPERS = [
    Tamper("pledge", "late", lambda old: not old, "late", {"employee_id": "citra"}),
    Tamper("pledge", "employee_id", "citra", insert={"employee_id": "citra"}),
    Tamper("pledge", "pledged_at", _earlier, "late"),
    Tamper("correction", "reason", "Dinas luar", insert={"employee_id": "citra"}),
    Tamper("paktasignature", "signed_at", None, "signed_at IS NOT NULL",
           {"employee_id": "citra"}),
    Tamper("leave", "end", _later(10), insert={"employee_id": "citra"}),
    Tamper("leaveending", "original_end", _later(3)),
    Tamper("registrationrequest", "state", "pending"),
    Tamper("employee", "name", "Orang Lain", "unit_id = 1",
           {"nip": "199912312020121999", "telegram_user_id": None}),
    Tamper("rolegrant", "role", "admin"),
    Tamper("dutyswap", "slot", "malam", "revoked_at IS NULL"),
    Tamper("announcement", "expected_count", 999, insert={"draft_key": "forged"}),
    Tamper("acknowledgement", "employee_id", "citra", insert={"employee_id": "citra"}),
]

ONE_PER_TABLE = list({t.table: t for t in reversed(TAMPERS)}.values())  # the first of each


def _raw(db):  # noqa: ANN001, ANN202
    """A connection of an owner who switched the foreign-key checks off."""
    conn = db.engine.connect()
    if db.is_sqlite:  # before any statement: inside a transaction the pragma does nothing
        conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")
    else:
        conn.exec_driver_sql("SET session_replication_role = replica")
    return conn


def _resolve(value: Any, world, old: Any = None) -> Any:  # noqa: ANN001
    if value == "citra":
        return world.citra_id
    return value(old) if callable(value) else value


def _pick(conn, t: Tamper) -> dict:  # noqa: ANN001
    sql = f"SELECT * FROM {t.table} WHERE {t.where} ORDER BY id LIMIT 1"  # noqa: S608
    return dict(conn.execute(text(sql)).one()._mapping)


def test_the_world_has_rows_in_every_table_and_verifies(world):
    db, _, keys = world
    report = _verify(db, keys)
    assert report.ok, report.text()
    with db.engine.connect() as conn:
        for table in TABLES:
            n = conn.execute(text(f"SELECT COUNT(*) FROM {table.name}")  # noqa: S608
                             ).scalar_one()
            assert n > 0, table.name
    assert "not matched to table rows" not in report.text()
    assert f"{report.rows_reconciled} table rows reconciled" in report.text()
    assert report.rows_reconciled > 20


@pytest.mark.parametrize("t", TAMPERS, ids=lambda t: f"{t.table}.{t.column}")
def test_a_changed_field_is_reported(world, t):
    db, w, keys = world
    with _raw(db) as conn:
        row = _pick(conn, t)
        new = _resolve(t.value, w, row[t.column])
        conn.execute(text(f'UPDATE {t.table} SET "{t.column}" = :v WHERE id = :id'),  # noqa: S608
                     {"v": new, "id": row["id"]})
        conn.commit()
    report = _verify(db, keys)
    assert not report.ok
    found = [p for p in report.problems if p.message.startswith(f"{t.table} row {row['id']}")]
    assert found and found[0].seq is not None, report.text()


@pytest.mark.parametrize("t", ONE_PER_TABLE, ids=lambda t: t.table)
def test_a_deleted_row_is_reported(world, t):
    db, _, keys = world
    with _raw(db) as conn:
        row = _pick(conn, t)
        conn.execute(text(f"DELETE FROM {t.table} WHERE id = :id"),  # noqa: S608
                     {"id": row["id"]})
        conn.commit()
    report = _verify(db, keys)
    assert any("missing from the table (deleted)" in p.message and p.seq
               and p.message.startswith(f"{t.table} row ") for p in report.problems), \
        report.text()


@pytest.mark.parametrize("t", ONE_PER_TABLE, ids=lambda t: t.table)
def test_an_inserted_row_is_reported(world, t):
    db, w, keys = world
    with _raw(db) as conn:
        row = _pick(conn, t)
        new_id = conn.execute(text(f"SELECT MAX(id) FROM {t.table}")  # noqa: S608
                              ).scalar_one() + 100
        row.update({k: _resolve(v, w) for k, v in t.insert.items()}, id=new_id)
        cols = ", ".join(f'"{c}"' for c in row)
        values = ", ".join(":" + c for c in row)
        conn.execute(text(f"INSERT INTO {t.table} ({cols}) VALUES ({values})"),  # noqa: S608
                     row)
        conn.commit()
    report = _verify(db, keys)
    assert any(p.message.startswith(f"{t.table} row {new_id} has no entry")
               for p in report.problems), report.text()

