"""Shared by the audit tests: a realistic log built through the API, and attacker tools."""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy import text

from bot.audit.canonical import canonical_payload, leaf_data
from bot.audit.chain import append
from bot.audit.checkpoint import sign_checkpoint
from bot.audit.keys import keyring_path, load_signing_key, read_keyring
from bot.audit.merkle import leaf_hash
from bot.audit.rotation import rotate_key
from bot.inspection.verify import verify_database
from bot.platform.clock import FakeClock
from bot.platform.db import Database

ORIGIN = "apel-bot"
START = datetime(2024, 11, 25, 0, 0, tzinfo=UTC)


@dataclass
class Golden:
    """A built log: where it lives, its keys, and the checkpoint notes an outsider kept."""

    url: str
    key_file: Path
    notes: list[tuple[int, str]] = field(default_factory=list)  # (tree size, note)
    last_seq: int = 0

    def keys(self):  # noqa: ANN201
        return read_keyring(keyring_path(self.key_file))


def _batch(session, clock: FakeClock, batch: int) -> None:  # noqa: ANN001
    """One apel's worth of events with ids, ints, lists, text and non-ASCII."""
    apel_id = batch + 1
    append(session, kind="apel.opened", actor="scheduler", at=clock.advance(minutes=1),
           payload={"apel_id": apel_id, "unit_id": 1 + batch % 2, "slot": "pagi",
                    "date": clock.now().date().isoformat(), "expected": list(range(1, 8))})
    for employee in range(1, 7):
        append(session, kind="pledge.recorded", actor=f"tg:{700000 + employee}",
               at=clock.advance(seconds=37),
               payload={"apel_id": apel_id, "employee_id": employee, "late": employee == 6,
                        "after_deadline": False, "expected": True})
    append(session, kind="apel.closed", actor="scheduler", at=clock.advance(minutes=30),
           payload={"apel_id": apel_id, "expected": 7, "pledged": 6, "missing": 1,
                    "note": "Regu A – satu pegawai belum ikrar \"cuti\""})
    append(session, kind="report.sent", actor="scheduler", at=clock.advance(seconds=1),
           payload={"apel_id": apel_id, "chat_id": -1001000000001, "missing_employee_ids": [7]})


def build_log(db: Database, key_file: Path, batches: int = 30) -> Golden:
    """~330 entries and a checkpoint after every apel, with a key rotation halfway."""
    clock = FakeClock(START)
    golden = Golden(db.url, key_file)
    key = load_signing_key(key_file, ORIGIN)
    for batch in range(batches):
        with db.transaction() as session:
            _batch(session, clock, batch)
        with db.transaction() as session:
            cp = sign_checkpoint(session, at=clock.advance(seconds=5), key=key)
            golden.notes.append((cp.tree_size, cp.note))
        if batch == batches // 2:
            rotate_key(db, key_file=key_file, origin=ORIGIN, clock=clock, actor="cli:test")
            key = load_signing_key(key_file, ORIGIN)
        clock.advance(hours=7)
    with db.engine.connect() as conn:
        golden.last_seq = conn.execute(text("SELECT MAX(seq) FROM auditentry")).scalar_one()
    return golden


def verify(db: Database, golden: Golden, outside: list[str] | None = None):  # noqa: ANN201
    return verify_database(db, keys=golden.keys(), origin=ORIGIN,
                           outside=[(f"held{i}.txt", n) for i, n in enumerate(outside or [])])


# ---- copies -------------------------------------------------------------------------------

def copy_sqlite(src: Path, dst: Path) -> str:
    shutil.copy(src, dst)
    wal = Path(f"{src}-wal")
    if wal.exists():
        shutil.copy(wal, f"{dst}-wal")
    return f"sqlite:///{dst}"


def pg_create_copy(admin_dsn: str, template: str) -> str:
    name = f"apel_audit_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return admin_dsn.rsplit("/", 1)[0] + "/" + name


def pg_drop(admin_dsn: str, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ---- what an attacker with owner rights does ----------------------------------------------

def drop_triggers(conn) -> None:  # noqa: ANN001
    if conn.dialect.name == "sqlite":
        for table in ("auditentry", "auditcheckpoint"):
            for action in ("update", "delete"):
                conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_{action}"))
    else:
        for table in ("auditentry", "auditcheckpoint"):
            conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}"))


def rows(conn, first: int = 1) -> list[dict]:  # noqa: ANN001
    return [dict(r._mapping) for r in conn.execute(text(
        "SELECT seq, at, kind, actor, payload, prev_hash, leaf_hash FROM auditentry "
        "WHERE seq >= :f ORDER BY seq"), {"f": first})]


def entry_hash(row: dict) -> str:
    return leaf_hash(leaf_data(row["seq"], row["at"], row["kind"], row["actor"], row["payload"],
                               row["prev_hash"])).hex()


def edited_payload(payload: str) -> str:
    data = json.loads(payload)
    data["employee_id"] = data.get("employee_id", 0) + 100
    return canonical_payload(data)


def rehash_from(conn, seq: int) -> None:  # noqa: ANN001
    """Recompute every hash from `seq` on, as a careful attacker would, and move the head."""
    prev = conn.execute(text("SELECT leaf_hash FROM auditentry WHERE seq = :s"),
                        {"s": seq - 1}).scalar_one()
    for row in rows(conn, seq):
        row["prev_hash"] = prev
        prev = entry_hash(row)
        conn.execute(text("UPDATE auditentry SET prev_hash = :p, leaf_hash = :h WHERE seq = :s"),
                     {"p": row["prev_hash"], "h": prev, "s": row["seq"]})
    fix_head(conn)


def fix_head(conn) -> None:  # noqa: ANN001
    last = conn.execute(text("SELECT seq, leaf_hash, at FROM auditentry ORDER BY seq DESC "
                             "LIMIT 1")).first()
    conn.execute(text("UPDATE audithead SET seq = :s, leaf_hash = :h, at = :a WHERE id = 1"),
                 {"s": last.seq, "h": last.leaf_hash, "a": last.at})


def renumber(conn, first: int, delta: int) -> None:  # noqa: ANN001
    """Shift seq >= first by delta without tripping the primary key midway."""
    conn.execute(text("UPDATE auditentry SET seq = -(seq + :d) WHERE seq >= :f"),
                 {"d": delta, "f": first})
    conn.execute(text("UPDATE auditentry SET seq = -seq WHERE seq < 0"))


def insert_row(conn, row: dict) -> None:  # noqa: ANN001
    conn.execute(text("INSERT INTO auditentry (seq, at, kind, actor, payload, prev_hash, "
                      "leaf_hash) VALUES (:seq, :at, :kind, :actor, :payload, :prev_hash, "
                      ":leaf_hash)"), row)


def forged_after(conn, seq: int, at: str | None = None, **changes) -> dict:  # noqa: ANN001, ANN003
    """A well-formed entry that links to entry `seq - 1`, as if written right after it."""
    before = conn.execute(text("SELECT leaf_hash, at FROM auditentry WHERE seq = :s"),
                          {"s": seq - 1}).first()
    row = {"seq": seq, "at": at or before.at, "kind": "pledge.recorded", "actor": "tg:999",
           "payload": canonical_payload({"apel_id": 1, "employee_id": 99}),
           "prev_hash": before.leaf_hash, **changes}
    row["leaf_hash"] = entry_hash(row)
    return row


def pledge_seq(golden_rows: list[dict], near: int) -> int:
    """An ordinary pledge entry at or after `near` (not a checkpoint or rotation record)."""
    return next(r["seq"] for r in golden_rows if r["seq"] >= near and
                r["kind"] == "pledge.recorded")


def later(at: str, **delta: float) -> str:
    from bot.audit.canonical import format_at, parse_at

    return format_at(parse_at(at) + timedelta(**delta))
