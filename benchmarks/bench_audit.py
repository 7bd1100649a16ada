"""Audit trail at scale: verify a log of 1,000,000 entries, and the cost of one append.

    python -m benchmarks.bench_audit [--entries 1000000] [--appends 5000] [--no-postgres]

1. Builds a SQLite log of --entries entries the fast way (chain computed in Python, rows
   bulk-inserted with executemany), with a signed checkpoint every 10,000 entries and its
   `checkpoint.signed` record, exactly as the API would have written them; every other entry
   is a pledge with its row in `pledge`, so verification reconciles a million rows.
2. Times `verify_database` over it (what `apel-bot verify` runs), with one checkpoint held
   outside; then exports the whole log as a bundle and times `verify_bundle` on it.
3. Times `sign_checkpoint` on the big log (incremental: only new leaves are hashed).
4. Times `append` inside one open transaction, on SQLite and (if reachable) PostgreSQL.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from hashlib import sha256
from pathlib import Path

from sqlalchemy import text

from benchmarks.machine import machine_text
from bot.audit.canonical import GENESIS_PREV, format_at, leaf_data
from bot.audit.chain import append
from bot.audit.checkpoint import sign_checkpoint
from bot.audit.keys import SigningKey
from bot.audit.kinds import CHECKPOINT_SIGNED, PLEDGE_RECORDED
from bot.audit.merkle import Frontier
from bot.audit.note import CheckpointBody, sign_note
from bot.inspection.bundle import export_bundle, verify_bundle
from bot.inspection.verify import verify_database
from bot.platform.db import Database

ORIGIN = "apel-bot"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
CHECKPOINT_EVERY = 10_000
START = datetime(2024, 1, 1, tzinfo=UTC)


def build(path: Path, entries: int, key: SigningKey) -> tuple[float, str]:
    """Write `entries` entries and their checkpoints; returns (seconds, last checkpoint note)."""
    db = Database(f"sqlite:///{path}")
    db.upgrade()
    db.dispose()
    t0 = time.perf_counter()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")  # a bulk build, not the bot's durable writes
    conn.execute("BEGIN")
    frontier, prev, batch, cps, note, pledges = Frontier(), GENESIS_PREV, [], [], "", []
    kid = key.verifier.key_id_hex
    at = ""
    for seq in range(1, entries + 1):
        at = format_at(START + timedelta(seconds=seq * 2))
        size = seq - 1
        if size and size % CHECKPOINT_EVERY == 0:
            root = frontier.root()
            note = sign_note(CheckpointBody(ORIGIN, size, root).text(), key)
            cps.append((len(cps) + 1, size, root.hex(), kid, note,
                        at[:-1].replace("T", " "), ",".join(n.hex() for n in frontier.nodes)))
            kind, actor = CHECKPOINT_SIGNED, "audit"
            payload = (f'{{"checkpoint_id":{len(cps)},"key_id":"{kid}","root":"{root.hex()}",'
                       f'"tree_size":{size}}}')
        else:
            kind, actor = PLEDGE_RECORDED, f"tg:{700000 + seq % 5000}"
            late = "true" if seq % 7 == 0 else "false"
            payload = (f'{{"after_deadline":false,"apel_id":{seq // 40},"employee_id":'
                       f'{seq % 5000},"expected":true,"late":{late},"pledge_id":{seq},'
                       f'"pledged_at":"{at}"}}')
            pledges.append((seq, seq // 40, seq % 5000, 700000 + seq % 5000, -100,
                            at[:-1].replace("T", " "), seq % 7 == 0, False, True))
        leaf = sha256(b"\x00" + leaf_data(seq, at, kind, actor, payload, prev)).digest()
        frontier.append(leaf)
        batch.append((seq, at, kind, actor, payload, prev, leaf.hex()))
        prev = leaf.hex()
        if len(batch) == 50_000:
            _flush(conn, batch, pledges)
    _flush(conn, batch, pledges)
    conn.executemany("INSERT INTO auditcheckpoint (id, tree_size, root_hash, key_id, note, "
                     "created_at, frontier) VALUES (?,?,?,?,?,?,?)", cps)
    conn.execute("INSERT INTO audithead VALUES (1, ?, ?, ?)", (entries, prev, at))
    conn.execute("COMMIT")
    conn.close()
    return time.perf_counter() - t0, note


def _flush(conn: sqlite3.Connection, entries: list, pledges: list) -> None:
    conn.executemany("INSERT INTO auditentry VALUES (?,?,?,?,?,?,?)", entries)
    conn.executemany("INSERT INTO pledge (id, apel_id, employee_id, telegram_user_id, chat_id, "
                     "pledged_at, late, after_deadline, expected) VALUES (?,?,?,?,?,?,?,?,?)",
                     pledges)
    entries.clear()
    pledges.clear()


def _pledge(session, i: int, now: datetime) -> None:  # noqa: ANN001
    append(session, kind=PLEDGE_RECORDED, actor=f"tg:{700000 + i}", at=now,
           payload={"pledge_id": i, "apel_id": i // 40, "employee_id": i % 5000,
                    "late": False, "after_deadline": False, "expected": True})


def time_appends(db: Database, n: int) -> tuple[float, float]:
    """Mean seconds per append inside an open transaction (the caller's unit of work):
    (the first append of a transaction, which also locks the chain head; each further one).
    """
    now = datetime.now(UTC)
    firsts = []
    for i in range(min(n, 500)):
        with db.transaction() as s:
            s.execute(text("SELECT 1"))  # the caller's transaction is already under way
            t0 = time.perf_counter()
            _pledge(s, i, now)
            firsts.append(time.perf_counter() - t0)
    with db.transaction() as s:
        _pledge(s, 0, now)
        t0 = time.perf_counter()
        for i in range(n):
            _pledge(s, i, now)
        return sum(firsts) / len(firsts), (time.perf_counter() - t0) / n


def postgres_appends(n: int) -> tuple[float, float] | None:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
            name = f"apel_bench_{uuid.uuid4().hex[:8]}"
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception:  # noqa: BLE001 (no server: skip this figure)
        return None
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    db = Database(url)
    try:
        db.upgrade()
        return time_appends(db, n)
    finally:
        db.dispose()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--appends", type=int, default=5_000)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-bundle", action="store_true")
    args = parser.parse_args()
    key = SigningKey.generate(ORIGIN)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "audit.db"
        seconds, held = build(path, args.entries, key)
        print(f"build    {args.entries:>9,} entries + {(args.entries - 1) // CHECKPOINT_EVERY} "
              f"checkpoints in {seconds:6.1f} s (bulk insert, not the API); {machine_text()}")
        db = Database(f"sqlite:///{path}")

        t0 = time.perf_counter()
        report = verify_database(db, keys=[key.verifier], origin=ORIGIN,
                                 outside=[("held.txt", held)])
        seconds = time.perf_counter() - t0
        assert report.ok, report.text()
        print(f"verify   {report.entries:>9,} entries in {seconds:6.1f} s "
              f"({report.entries / seconds:,.0f} entries/s), {report.checkpoints} checkpoints, "
              f"1 held outside, {report.rows_reconciled:,} table rows reconciled: OK; "
              f"{machine_text()}")

        if not args.no_bundle:
            bundle = Path(tmp) / "bundle.zip"
            t0 = time.perf_counter()
            export_bundle(db, start=date(2000, 1, 1), end=date(2100, 1, 1), out=bundle,
                          origin=ORIGIN, keys=[key.verifier], now=datetime.now(UTC))
            seconds = time.perf_counter() - t0
            size_mb = bundle.stat().st_size / 1e6
            print(f"export   {report.entries:>9,} entries in {seconds:6.1f} s "
                  f"(bundle {size_mb:,.0f} MB); {machine_text()}")
            t0 = time.perf_counter()
            breport = verify_bundle(bundle, pinned_keys=[key.verifier],
                                    outside=[("held.txt", held)])
            seconds = time.perf_counter() - t0
            assert breport.ok, breport.text()
            print(f"bundle   {breport.entries:>9,} entries in {seconds:6.1f} s "
                  f"({breport.entries / seconds:,.0f} entries/s): OK; {machine_text()}")

        with db.transaction() as s:
            t0 = time.perf_counter()
            cp = sign_checkpoint(s, at=datetime.now(UTC), key=key)
            seconds = time.perf_counter() - t0
        print(f"checkpoint at tree size {cp.tree_size:,} in {seconds * 1000:.1f} ms "
              f"(incremental from the previous checkpoint); {machine_text()}")
        _print_appends("sqlite", time_appends(db, args.appends), args.appends)
        db.dispose()

    if not args.no_postgres:
        figures = postgres_appends(args.appends)
        if figures is None:
            print("append   postgresql  (server not reachable: skipped)")
        else:
            _print_appends("postgresql", figures, args.appends)


def _print_appends(name: str, figures: tuple[float, float], n: int) -> None:
    first, rest = figures
    print(f"append   {name:<10} {first * 1e6:5.0f} µs first in a transaction (locks the head), "
          f"{rest * 1e6:5.0f} µs each further (mean of {n:,}); {machine_text()}")


if __name__ == "__main__":
    main()
