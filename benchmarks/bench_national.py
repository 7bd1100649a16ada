"""/rekap at national scale on PostgreSQL: every unit of the ministry, a year of apel.

    python -m benchmarks.bench_national [--units 500] [--staff 120] [--runs 5] [--stale 100]
                                        [--explain] [--keep DB_NAME]

The data set is built in minutes: the small tables (people, leave, apel, briefings) are COPYed
from Python, the big ones (the frozen rosters, ~16 M rows at 500 units, and the pledges) are
made by the database itself (INSERT ... SELECT over the briefings). The shape is that of
bench_reports: 4 regu and 3 apel a day, administration staff at the morning apel on working
days, ~90 % on time, ~5 % late, ~1 % after the deadline, the rest missing, two spells of leave
per person, 0.5 % of briefings failed, two missed apel (bot down) per unit spread over the
year; apel ids in time order across units, as the scheduler opens them.

Closed apel are counted as the bot does when each closes (apel_counts.recount); then `--stale`
closed apel spread over the year are left uncounted (a pledge or leave bumped them and the
recount has not caught up), so the live half of each report has spread-out work to do.

Targets (issue 17): national year /rekap < 1 s, a Kanwil's < 200 ms, a unit's < 100 ms.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta

import psycopg
from sqlalchemy import text
from sqlmodel import select

from benchmarks.bench_reports import POINTS, _naive, _pg_database, _pg_drop, check_counts
from benchmarks.machine import machine_text
from bot.apel import counts as apel_counts
from bot.calendar.duty import is_working_day, plan_apel
from bot.calendar.periods import parse_period
from bot.org.models import PledgePeriod, Regu, RoleGrant, Unit
from bot.org.units import sync_config
from bot.platform.config import Settings
from bot.platform.db import Database
from bot.reports import tally, views
from bot.reports.scope import scope_for

YEAR_START, YEAR_END = date(2024, 1, 1), date(2024, 12, 31)
NOW = datetime(2024, 12, 31, 13, 0, tzinfo=UTC)  # 21.00 WITA on 31 December: all closed
ADMIN, OFFICER = 900_001, 900_002  # Telegram ids: a national admin, an officer of Kanwil 01
KANWILS = 33
SLOTS = ("pagi", "siang", "malam")
TARGETS = {"national": 1.0, "kanwil": 0.2, "unit": 0.1}


def settings_for(units: int) -> Settings:
    return Settings.model_validate({
        "telegram": {"admin_user_ids": [ADMIN]},
        "database": {"url": "sqlite:///unused.db"},
        "period": {"name": "Benchmark 2024", "start": YEAR_START.isoformat(),
                   "end": YEAR_END.isoformat(), "pledge_points": POINTS},
        "units": [{
            "code": f"n-{i:03d}", "name": f"Lapas N {i:03d}", "kind": "Lapas",
            "kanwil": f"Kanwil {i % KANWILS + 1:02d}", "timezone": "Asia/Makassar",
            "kalapas_chat_id": 8_000_000 + i, "admin_group_chat_id": -(5_000_000_000 + i),
            "regu": [{"name": f"Regu {c}", "chat_id": -(4_000_000_000 + i * 10 + k)}
                     for k, c in enumerate("ABCD")],
            "rotation": {"anchor_date": "2024-01-01"},
        } for i in range(units)],
    })


# --- generating -------------------------------------------------------------------------------


def _copy(raw, table: str, columns: list[str], rows: Iterator[tuple]) -> int:  # noqa: ANN001
    cols = ", ".join(f'"{c}"' for c in columns)
    n = 0
    with raw.cursor().copy(f'COPY "{table}" ({cols}) FROM STDIN') as copy:
        for r in rows:
            copy.write_row([_naive(v) for v in r])
            n += 1
    return n


def _people(units: list[int], regus: dict[tuple[int, str | None], int | None], staff: int,
            rng: random.Random) -> tuple[list[tuple], list[tuple]]:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    admin_staff = max(1, staff // 15)
    per_regu = (staff - admin_staff) // 4
    people, leave = [], []
    for unit_id in units:
        for regu, count in [(None, admin_staff)] + [(f"Regu {c}", per_regu) for c in "ABCD"]:
            for _ in range(count):
                emp = len(people) + 1
                people.append((emp, f"{198_500_000_000_000_000 + emp:018d}", f"Pegawai {emp}",
                               "staf" if regu is None else "anggota", unit_id,
                               regus[(unit_id, regu)], 10_000_000 + emp, False, True, t0))
                for spell in range(2):
                    start = YEAR_START + timedelta(days=spell * 183 + rng.randrange(175))
                    leave.append((len(leave) + 1, emp, start,
                                  start + timedelta(days=rng.randrange(2, 7)), "cuti", "bench",
                                  t0))
    return people, leave


def _apel_rows(settings: Settings, units: list[int], period: int, rng: random.Random,
               regus: dict[tuple[int, str | None], int | None]) -> tuple[list[tuple], list[tuple]]:
    """(apel rows, (apel id, regu id) per briefing). Every unit has the same rotation and time
    zone, so one plan per (day, slot) serves all."""
    cfg = settings.units[0]
    missed = {(u, YEAR_START + timedelta(days=rng.randrange(360))) for u in units
              for _ in range(2)}
    apel, groups = [], []
    day = YEAR_START
    while day <= YEAR_END:
        for s, slot in enumerate(SLOTS):
            plan = plan_apel(cfg, day, slot, settings.calendar)
            admin = plan.includes_administration and is_working_day(day, settings.calendar)
            for i, unit_id in enumerate(units):
                apel_id = ((day - YEAR_START).days * len(units) + i) * 3 + s + 1
                state = "missed" if slot == "malam" and (unit_id, day) in missed else "closed"
                apel.append((apel_id, unit_id, day, slot, period, plan.scheduled_at,
                             plan.late_after_at, plan.deadline_at,
                             None if state == "missed" else plan.scheduled_at,
                             plan.deadline_at, state, False))
                if state == "closed":
                    groups.append((apel_id, regus[(unit_id, plan.regu)], plan.scheduled_at))
                    if admin:
                        groups.append((apel_id, None, plan.scheduled_at))
        day += timedelta(days=1)
    return apel, groups


APEL_COLUMNS = ["id", "unit_id", "duty_date", "slot", "period_id", "scheduled_at",
                "late_after_at", "deadline_at", "opened_at", "closed_at", "state", "opened_late"]
EMPLOYEE_COLUMNS = ["id", "nip", "name", "role", "unit_id", "regu_id", "telegram_user_id",
                    "private_chat_ok", "active", "updated_at"]
LEAVE_COLUMNS = ["id", "employee_id", "start", "end", "reason", "created_by", "created_at"]
OUTBOX_COLUMNS = ["id", "key", "chat_id", "method", "payload", "priority", "state", "attempts",
                  "next_attempt_at", "created_at", "sent_at", "message_id", "last_error",
                  "uncertain"]
BRIEFING_COLUMNS = ["id", "apel_id", "regu_id", "chat_id", "outbox_id", "tally_shown"]

# The frozen rosters: each briefed group's people (a failed briefing's too: not reached).
EXPECTED_SQL = """
INSERT INTO apelexpected (apel_id, employee_id, regu_id)
SELECT b.apel_id, e.id, b.regu_id
FROM briefing b JOIN apel a ON a.id = b.apel_id
JOIN employee e ON e.unit_id = a.unit_id AND coalesce(e.regu_id, 0) = coalesce(b.regu_id, 0)
ORDER BY b.apel_id, e.id
"""
# Pledges: 4 % missing, then 90 % within 15 min, 5 % late, 1 % after the deadline.
PLEDGE_SQL = """
INSERT INTO pledge (apel_id, employee_id, telegram_user_id, chat_id, pledged_at, late,
                    after_deadline, expected)
SELECT apel_id, employee_id, 10000000 + employee_id, -1,
       scheduled_at + make_interval(secs => 60 * m), m > 15, m > 30, true
FROM (SELECT x.apel_id, x.employee_id, a.scheduled_at, r,
             CASE WHEN r < 0.94 THEN 0.5 + u * 13.5 WHEN r < 0.99 THEN 16 + u * 13
                  ELSE 31 + u * 89 END AS m
      FROM (SELECT *, random() AS r, random() AS u FROM apelexpected) x
      JOIN apel a ON a.id = x.apel_id
      WHERE NOT EXISTS (SELECT 1 FROM leave l WHERE l.employee_id = x.employee_id
                        AND l.start <= a.duty_date AND l."end" >= a.duty_date)) p
WHERE r >= 0.04
ORDER BY apel_id, employee_id
"""


def build(db: Database, settings: Settings, staff: int, seed: int) -> None:
    db.upgrade()

    def setup(s):  # noqa: ANN001, ANN202
        sync_config(s, settings, NOW)
        s.add(RoleGrant(telegram_user_id=OFFICER, role="kanwil", kanwil="Kanwil 01",
                        granted_at=NOW))
        s.flush()
        units = [u.id for u in s.exec(select(Unit).order_by(Unit.code))]
        regus = {(r.unit_id, r.name): r.id for r in s.exec(select(Regu))}
        return units, regus, s.exec(select(PledgePeriod)).one().id

    t = time.perf_counter()
    units, regus, period = db.call(setup)
    regus.update({(u, None): None for u in units})
    rng = random.Random(seed)
    people, leave = _people(units, regus, staff, rng)
    apel, groups = _apel_rows(settings, units, period, rng, regus)
    print(f"  planned {len(units)} units in {time.perf_counter() - t:.1f} s")
    raw = db.engine.raw_connection()
    try:
        driver = raw.driver_connection
        driver.execute("SET session_replication_role = replica")  # no FK triggers: consistent
        driver.execute("SET work_mem = '256MB'")
        steps: list[tuple[str, Callable[[], int]]] = [
            ("employee", lambda: _copy(raw, "employee", EMPLOYEE_COLUMNS, iter(people))),
            ("leave", lambda: _copy(raw, "leave", LEAVE_COLUMNS, iter(leave))),
            ("apel", lambda: _copy(raw, "apel", APEL_COLUMNS, iter(apel))),
            ("outboxmessage", lambda: _copy(raw, "outboxmessage", OUTBOX_COLUMNS, (
                (i, f"briefing:{a}:{r}", -1, "sendMessage", "{}", 4,
                 "failed" if i % 200 == 7 else "sent", 1, at, at,
                 None if i % 200 == 7 else at + timedelta(seconds=2), i, None, False)
                for i, (a, r, at) in enumerate(groups, 1)))),
            ("briefing", lambda: _copy(raw, "briefing", BRIEFING_COLUMNS, (
                (i, a, r, -(6_000_000_000 + i), i, 0) for i, (a, r, _) in enumerate(groups, 1)))),
            ("apelexpected", lambda: driver.execute(EXPECTED_SQL).rowcount),
            ("pledge", lambda: driver.execute(PLEDGE_SQL).rowcount),
        ]
        for table, step in steps:
            t = time.perf_counter()
            n = step()
            print(f"  {table:<14} {n:>11,} rows in {time.perf_counter() - t:6.1f} s")
        for table in ("employee", "leave", "apel", "outboxmessage", "briefing", "pledge"):
            driver.execute(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "  # noqa: S608
                           f"(SELECT max(id) FROM \"{table}\"))")
        raw.commit()
        _vacuum(raw)
    finally:
        raw.close()


def _vacuum(raw) -> None:  # noqa: ANN001
    """What autovacuum does soon after a bulk load."""
    t = time.perf_counter()
    driver = raw.driver_connection
    driver.autocommit = True
    driver.execute("VACUUM ANALYZE")
    driver.autocommit = False
    print(f"  vacuum analyze in {time.perf_counter() - t:.1f} s")


def count_closed(db: Database, batch: int = 2000) -> None:
    """What the bot does as each apel closes (apel_counts.recount), for the whole year."""
    t, n = time.perf_counter(), 0
    ids = db.read(lambda s: list(s.execute(text(
        "SELECT id FROM apel WHERE state = 'closed' ORDER BY id")).scalars()))
    for i in range(0, len(ids), batch):
        n += db.call(lambda s, part=ids[i:i + batch]: apel_counts.recount(s, part))
    took = time.perf_counter() - t
    print(f"  counted {n:,} closed apel in {took:.1f} s, {took / max(n, 1) * 1000:.2f} ms per "
          f"apel ({machine_text()})")
    raw = db.engine.raw_connection()
    try:
        _vacuum(raw)
    finally:
        raw.close()


def leave_stale(db: Database, how_many: int, rng: random.Random) -> None:
    """Bump `how_many` closed apel spread over the year: counted no more until a recount."""
    ids = db.read(lambda s: list(s.execute(text(
        "SELECT id FROM apel WHERE state = 'closed'")).scalars()))
    picked = sorted(rng.sample(ids, min(how_many, len(ids))))
    db.call(lambda s: s.execute(text(
        "UPDATE apel SET change_version = change_version + 1 WHERE id = ANY(:ids)"),
        {"ids": picked}))
    print(f"  left {len(picked)} closed apel uncounted, ids {picked[0]}..{picked[-1]}")


# --- measuring --------------------------------------------------------------------------------


def timed(label: str, fn: Callable[[], object], runs: int) -> list[float]:
    fn()  # warm: plan cache, templates
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    print(f"    {label:<34} median {statistics.median(samples) * 1000:7.0f} ms  "
          f"(min {min(samples) * 1000:.0f}, max {max(samples) * 1000:.0f}, {runs} runs)  "
          f"{machine_text()}")
    return samples


def measure(db: Database, settings: Settings, runs: int) -> dict[str, list[float]]:
    unit = db.read(lambda s: s.exec(select(Unit).order_by(Unit.code)).first())
    out: dict[str, list[float]] = {}
    for label in ("hari ini", "bulan ini", "periode"):
        spec = parse_period(label)
        for who, user in (("national", ADMIN), ("kanwil", OFFICER)):
            def go(spec=spec, user=user) -> None:  # noqa: ANN001
                db.read(lambda s: views.rekap_view(
                    s, settings, scope_for(s, settings, user), spec, NOW))
            out[f"{who} {label}"] = timed(f"{who} /rekap {label}", go, runs)

        def one(spec=spec) -> None:  # noqa: ANN001
            db.read(lambda s: views.unit_view(
                s, settings, scope_for(s, settings, ADMIN), unit, spec, NOW))
        out[f"unit {label}"] = timed(f"unit /rekap {label}", one, runs)
    return out


def explain(db: Database) -> None:
    """EXPLAIN ANALYZE of the national year's tallies statement."""
    def go(s):  # noqa: ANN001, ANN202
        ids = list(s.exec(select(Unit.id)))
        query = tally.tally_query(s, ids, YEAR_START, YEAR_END, ("unit",))
        compiled = query.compile(s.get_bind(), compile_kwargs={"literal_binds": True})
        return [r[0] for r in s.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}"))]
    print("\n".join(db.read(go)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=500)
    parser.add_argument("--staff", type=int, default=120, help="staff per unit")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--stale", type=int, default=100,
                        help="closed apel left uncounted, spread over the year")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--keep", metavar="DB", help="reuse (or build and keep) this database")
    args = parser.parse_args()
    settings = settings_for(args.units)
    admin_dsn = os.environ.get("APEL_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
    if args.keep:
        name, url = args.keep, admin_dsn.rsplit("/", 1)[0] + "/" + args.keep
        _ensure(admin_dsn, name)
    else:
        name, url = _pg_database()
    print(f"PostgreSQL ({name}): {args.units} units x {args.staff} staff, a year "
          f"({machine_text()})")
    try:
        db = Database(url)
        fresh = not args.keep or not _built(db)
        if fresh:
            t = time.perf_counter()
            build(db, settings, args.staff, seed=1)
            count_closed(db)
            leave_stale(db, args.stale, random.Random(2))
            print(f"  built in {time.perf_counter() - t:.0f} s")
        first_units = db.read(lambda s: list(s.exec(select(Unit.id).order_by(Unit.id).limit(3))))
        check_counts(db, first_units)
        if args.explain:
            explain(db)
        results = measure(db, settings, args.runs)
        db.dispose()
    finally:
        if not args.keep:
            _pg_drop(name)
    print(f"\nyear (periode), median over {args.runs} runs, {machine_text()}")
    for who, target in TARGETS.items():
        median = statistics.median(results[f"{who} periode"])
        print(f"  {who:<9} {median * 1000:7.0f} ms  target < {target * 1000:.0f} ms "
              f"{'ok' if median < target else 'MISSED'}")
    return 0


def _ensure(admin_dsn: str, name: str) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _built(db: Database) -> bool:
    try:
        sql = text("SELECT count(*) FROM apelstatuscount")
        return bool(db.read(lambda s: s.execute(sql).scalar()))
    except Exception:  # noqa: BLE001 (a database not made yet)
        return False


if __name__ == "__main__":
    raise SystemExit(main())
