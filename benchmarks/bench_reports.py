"""Reports over a year of data: /rekap, /status, /regu, /belum, /unduh, /grafik for one unit of
300 staff (SQLite and PostgreSQL), and /rekap for a Kanwil of 30 such units (PostgreSQL).

    python -m benchmarks.bench_reports [--units 30] [--staff 300] [--runs 5] [--no-postgres]
                                       [--keep-png DIR] [--live]

Data is generated straight into the database (bulk inserts: executemany on SQLite, COPY on
PostgreSQL): the rotation of config (4 regu, 3 apel a day), administration staff at the morning
apel on working days, ~90% on time, ~5% late, ~1% after the deadline, the rest missing, leave
(two short spells per person), a few failed briefings (not reached) and missed apel (bot down).
Each figure is the median wall time of the service call the bot makes for that command (read
+ render, what the handler runs off the event loop), on a fresh session each run.

PostgreSQL runs in a fresh database (apel_bench_<random>) created and dropped by the script.
Targets: one unit's /rekap < 300 ms, /unduh < 3 s, /grafik < 2 s; the Kanwil's /rekap < 2 s.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
from sqlmodel import select

from benchmarks.machine import machine_text
from bot.apel import counts as apel_counts
from bot.calendar.duty import is_working_day, plan_apel
from bot.calendar.periods import parse_period
from bot.org.models import Employee, PledgePeriod, Regu, RoleGrant, Unit
from bot.org.units import sync_config
from bot.platform.config import Settings, UnitConfig
from bot.platform.db import Database
from bot.reports import files, tally, views
from bot.reports.scope import Scope, scope_for

PG_ADMIN = os.environ.get("APEL_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
KANWIL = "Kanwil Bench"
YEAR_START, YEAR_END = date(2024, 1, 1), date(2024, 12, 31)
NOW = datetime(2024, 12, 31, 13, 0, tzinfo=UTC)  # 21.00 WITA on 31 December: all closed
OFFICER = 900_000  # Telegram id of the Kanwil officer asking
POINTS = ["Menjaga netralitas", "Menghindari konflik kepentingan", "Bijak bermedia sosial",
          "Menolak politik uang"]
NAMES = ["Budi", "Sari", "Andi", "Dewi", "Rudi", "Eko", "Rina", "Agus", "Hendra", "Wati",
         "Joko", "Sri", "Yudi", "Lina", "Dedi", "Tuti", "Bambang", "Nur", "Fajar", "Ayu"]
FAMILY = ["Santoso", "Wulandari", "Pratama", "Lestari", "Hartono", "Saputra", "Marlina",
          "Salim", "Gunawan", "Siregar", "Nasution", "Hidayat", "Kusuma", "Putri", "Wijaya"]


def settings_for(units: int) -> Settings:
    return Settings.model_validate({
        "database": {"url": "sqlite:///unused.db"},
        "period": {"name": "Benchmark 2024", "start": YEAR_START.isoformat(),
                   "end": YEAR_END.isoformat(), "pledge_points": POINTS},
        "units": [{
            "code": f"bench-{i:02d}", "name": f"Lapas Bench {i:02d}", "kind": "Lapas",
            "kanwil": KANWIL, "timezone": "Asia/Makassar", "kalapas_chat_id": 8_000_000 + i,
            "admin_group_chat_id": -(5_000_000_000 + i),
            "regu": [{"name": f"Regu {c}", "chat_id": -(4_000_000_000 + i * 10 + k)}
                     for k, c in enumerate("ABCD")],
            "rotation": {"anchor_date": "2024-01-01"},
        } for i in range(1, units + 1)],
    })


class Rows:
    """Generated rows per table, ids assigned here (so the big tables can be COPYed)."""

    def __init__(self) -> None:
        self.tables: dict[str, tuple[list[str], list[tuple]]] = {}
        self.ids: dict[str, int] = {}

    def next_id(self, table: str) -> int:
        self.ids[table] = self.ids.get(table, 0) + 1
        return self.ids[table]

    def add(self, table: str, columns: list[str], row: tuple) -> None:
        self.tables.setdefault(table, (columns, []))[1].append(row)


def generate(rows: Rows, settings: Settings, cfg: UnitConfig, unit_ids: dict[str, int],
             regu_ids: dict[tuple[int, str], int], period_id: int, staff: int,
             rng: random.Random, nip_base: int) -> None:
    """One unit's year of rows."""
    unit_index = settings.units.index(cfg)
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    unit_id = unit_ids[cfg.code]
    people: dict[str | None, list[int]] = {}
    on_leave: dict[int, list[tuple[date, date]]] = {}
    admin_staff = max(1, staff // 15)
    per_regu = (staff - admin_staff) // 4
    roster = [(None, admin_staff)] + [(r.name, per_regu) for r in cfg.regu]
    for regu, count in roster:
        for _ in range(count):
            emp_id = rows.next_id("employee")
            name = f"{rng.choice(NAMES)} {rng.choice(FAMILY)} {emp_id}"
            rows.add("employee", ["id", "nip", "name", "role", "unit_id", "regu_id",
                                  "telegram_user_id", "private_chat_ok", "active",
                                  "updated_at"],
                     (emp_id, f"{nip_base + emp_id:018d}", name,
                      "staf" if regu is None else "anggota", unit_id,
                      regu_ids[(unit_id, regu)] if regu else None, 10_000_000 + emp_id,
                      False, True, t0))
            people.setdefault(regu, []).append(emp_id)
            for spell in range(2):  # two short spells of leave a year, one per half
                start = YEAR_START + timedelta(days=spell * 183 + rng.randrange(175))
                end = start + timedelta(days=rng.randrange(2, 7))
                rows.add("leave", ["id", "employee_id", "start", "end", "reason",
                                   "created_by", "created_at"],
                         (rows.next_id("leave"), emp_id, start, end, "cuti tahunan",
                          "bench", t0))
                on_leave.setdefault(emp_id, []).append((start, end))
    missed = {(YEAR_START + timedelta(days=rng.randrange(360)), "malam") for _ in range(2)}
    day = YEAR_START
    while day <= YEAR_END:
        for slot in ("pagi", "siang", "malam"):
            plan = plan_apel(cfg, day, slot, settings.calendar)
            # Ids in time order across units, as the scheduler opens them in production.
            apel_id = (((day - YEAR_START).days * len(settings.units) + unit_index) * 3
                       + ("pagi", "siang", "malam").index(slot) + 1)
            state = "missed" if (day, slot) in missed else "closed"
            rows.add("apel", ["id", "unit_id", "duty_date", "slot", "period_id",
                              "scheduled_at", "late_after_at", "deadline_at", "opened_at",
                              "closed_at", "state", "opened_late"],
                     (apel_id, unit_id, day, slot, period_id, plan.scheduled_at,
                      plan.late_after_at, plan.deadline_at,
                      None if state == "missed" else plan.scheduled_at, plan.deadline_at,
                      state, False))
            if state == "missed":
                continue
            groups = [plan.regu] + ([None] if plan.includes_administration and
                                    is_working_day(day, settings.calendar) else [])
            for group in groups:
                regu_id = regu_ids[(unit_id, group)] if group else None
                failed = rng.random() < 0.005
                out_id = rows.next_id("outboxmessage")
                rows.add("outboxmessage", [
                    "id", "key", "chat_id", "method", "payload", "priority", "state",
                    "attempts", "next_attempt_at", "created_at", "sent_at", "message_id",
                    "last_error", "uncertain"],
                    (out_id, f"briefing:{apel_id}:{regu_id}", -1, "sendMessage", "{}", 4,
                     "failed" if failed else "sent", 1, plan.scheduled_at,
                     plan.scheduled_at, None if failed else
                     plan.scheduled_at + timedelta(seconds=2),
                     None if failed else out_id, None, False))
                rows.add("briefing", ["id", "apel_id", "regu_id", "chat_id", "outbox_id",
                                      "tally_shown", "tally_edited_at"],
                         (rows.next_id("briefing"), apel_id, regu_id,
                          -(6_000_000_000 + out_id), out_id, 0, None))
                for emp_id in people[group]:
                    rows.add("apelexpected", ["apel_id", "employee_id", "regu_id"],
                             (apel_id, emp_id, regu_id))
                    if any(s <= day <= e for s, e in on_leave.get(emp_id, ())):
                        continue
                    roll = rng.random()
                    if roll < 0.04:
                        continue  # missing
                    minutes = (rng.uniform(0.5, 14) if roll < 0.94 else
                               rng.uniform(16, 29) if roll < 0.99 else rng.uniform(31, 120))
                    at = plan.scheduled_at + timedelta(minutes=minutes)
                    rows.add("pledge", ["id", "apel_id", "employee_id", "telegram_user_id",
                                        "chat_id", "pledged_at", "late", "after_deadline",
                                        "expected"],
                             (rows.next_id("pledge"), apel_id, emp_id, 10_000_000 + emp_id,
                              -1, at, minutes > 15, minutes > 30, True))
        day += timedelta(days=1)


ORDER = ["employee", "leave", "apel", "outboxmessage", "briefing", "apelexpected", "pledge"]


def _naive(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def load(db: Database, rows: Rows, analyze: bool) -> None:
    if db.is_sqlite:
        path = db.url.removeprefix("sqlite:///")
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA foreign_keys=OFF")
        conn.execute("BEGIN")
        for table in ORDER:
            columns, data = rows.tables[table]
            cols = ", ".join(f'"{c}"' for c in columns)
            marks = ", ".join("?" for _ in columns)
            conn.executemany(f'INSERT INTO "{table}" ({cols}) VALUES ({marks})',  # noqa: S608
                             ([_naive(v) for v in r] for r in data))
        conn.execute("COMMIT")
        if analyze:
            conn.execute("ANALYZE")
        conn.close()
        return
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        for table in ORDER:
            columns, data = rows.tables[table]
            cols = ", ".join(f'"{c}"' for c in columns)
            with cur.copy(f'COPY "{table}" ({cols}) FROM STDIN') as copy:
                for r in data:
                    copy.write_row([_naive(v) for v in r])
            if "id" in columns:
                cur.execute(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "  # noqa: S608
                            f"(SELECT max(id) FROM \"{table}\"))")
        raw.commit()
        if analyze:  # what autovacuum would do soon after a bulk load
            driver = raw.driver_connection
            driver.autocommit = True
            driver.execute("VACUUM ANALYZE")
            driver.autocommit = False
    finally:
        raw.close()


def build(db: Database, settings: Settings, staff: int, seed: int = 1, *,
          count_apel: bool = True) -> dict[str, int]:
    db.upgrade()

    def setup(s):
        sync_config(s, settings, NOW)
        s.add(RoleGrant(telegram_user_id=OFFICER, role="kanwil", kanwil=KANWIL, granted_at=NOW))
        s.flush()
        units = {u.code: u.id for u in s.exec(select(Unit))}
        regus = {(r.unit_id, r.name): r.id for r in s.exec(select(Regu))}
        period = s.exec(select(PledgePeriod)).one().id
        return units, regus, period

    units, regus, period = db.call(setup)
    rows, rng = Rows(), random.Random(seed)
    counts: dict[str, int] = dict.fromkeys(ORDER, 0)
    gen = copy = 0.0
    for i, cfg in enumerate(settings.units):  # one unit at a time: memory stays small
        t0 = time.perf_counter()
        generate(rows, settings, cfg, units, regus, period, staff, rng, 198_500_000_000_000_000)
        t1 = time.perf_counter()
        load(db, rows, analyze=i == len(settings.units) - 1)
        gen, copy = gen + t1 - t0, copy + time.perf_counter() - t1
        for t in ORDER:
            counts[t] += len(rows.tables[t][1])
        rows.tables.clear()
    print(f"  generated {counts} in {gen:.1f} s, loaded in {copy:.1f} s")
    if count_apel:
        count_closed_apel(db)
    return counts


def count_closed_apel(db: Database) -> None:
    """What the bot does as each apel closes (apel_counts.recount), done here for the year."""
    t, apel = time.perf_counter(), 0
    while batch := db.call(lambda s: apel_counts.recount_stale(s, 200)):
        apel += batch
    took = time.perf_counter() - t
    if not db.is_sqlite:  # what autovacuum does after a bulk change
        raw = db.engine.raw_connection()
        try:
            raw.driver_connection.autocommit = True
            raw.driver_connection.execute("ANALYZE apelstatuscount, apel")
        finally:
            raw.close()
    print(f"  counted {apel} closed apel in {took:.1f} s "
          f"({1000 * took / max(apel, 1):.1f} ms per apel, paid once as each closes)")
    check_counts(db)


def check_counts(db: Database, unit_ids: list[int] | None = None) -> None:
    """The year's figures from the kept counts equal those of the live classification (per
    person, which never reads the counts); a benchmark of wrong figures would be worthless.
    Every unit, or `unit_ids`."""
    def both(s):  # noqa: ANN001, ANN202
        ids = unit_ids if unit_ids is not None else list(s.exec(select(Unit.id)))
        kept = tally.tallies(s, ids, YEAR_START, YEAR_END, ("unit",))
        live: dict[tuple, tally.Tally] = {}
        for (unit_id, _), t in tally.tallies(s, ids, YEAR_START, YEAR_END,
                                               ("unit", "employee")).items():
            live.setdefault((unit_id,), tally.Tally()).add(t)
        return kept, live
    kept, live = db.read(both)
    if kept != live:
        raise SystemExit("kept counts disagree with the live classification")
    print(f"  kept counts agree with the live classification ({len(kept)} units)")


def timed(label: str, fn: Callable[[], object], runs: int) -> float:
    fn()  # warm: imports, plan cache, fonts
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    median = statistics.median(samples)
    print(f"    {label:<32} {median * 1000:8.0f} ms  (min {min(samples) * 1000:.0f}, "
          f"max {max(samples) * 1000:.0f}, {runs} runs)")
    return median


def measure_unit(db: Database, settings: Settings, runs: int,
                 keep: Path | None) -> list[tuple[str, float]]:
    unit = db.call(lambda s: s.exec(select(Unit).where(Unit.code == "bench-01")).one())
    year, today, month = (parse_period(p) for p in ("periode", "hari ini", "bulan ini"))
    name = db.call(lambda s: s.exec(select(Employee.name).where(
        Employee.unit_id == unit.id).order_by(Employee.id).limit(1)).one())
    regu = db.call(lambda s: s.exec(select(Regu).where(Regu.unit_id == unit.id)
                                    .order_by(Regu.name)).first())

    def scope(s):  # noqa: ANN001, ANN202
        return Scope(scope_for(s, settings, OFFICER).actor, [unit])

    def view(build):  # noqa: ANN001, ANN202
        return lambda: db.call(lambda s: build(s, scope(s)))

    def file(kind: str, spec):  # noqa: ANN001, ANN202
        def go() -> None:
            job = db.call(lambda s: files.prepare_file(s, settings, unit, spec, NOW, kind))
            out = files.render_file(job)
            if keep is not None:
                keep.mkdir(parents=True, exist_ok=True)
                (keep / out.filename).write_bytes(out.content)
        return go

    out = [
        ("/rekap hari ini", view(lambda s, sc: views.unit_view(s, settings, sc, unit, today, NOW))),
        ("/rekap bulan ini", view(lambda s, sc: views.unit_view(s, settings, sc, unit, month,
                                                                NOW))),
        ("/rekap periode (1 year)", view(lambda s, sc: views.unit_view(s, settings, sc, unit,
                                                                       year, NOW))),
        ("/status <name> (1 year)", view(lambda s, sc: views.status_search_view(
            s, settings, sc, name, year, NOW))),
        ("/regu A (1 year)", view(lambda s, sc: views.regu_view(s, settings, sc, regu, year,
                                                                NOW))),
        ("/belum", view(lambda s, sc: views.belum_view(s, sc, unit, NOW))),
        ("/unduh periode (1 year)", file("unduh", year)),
        ("/unduh bulan ini", file("unduh", month)),
        ("/grafik periode (1 year)", file("grafik", year)),
        ("/grafik bulan ini", file("grafik", month)),
    ]
    return [(label, timed(label, fn, runs if "unduh" not in label else max(1, runs // 2)))
            for label, fn in out]


def measure_kanwil(db: Database, settings: Settings, runs: int) -> list[tuple[str, float]]:
    out = []
    for label, text in (("hari ini", "hari ini"), ("bulan ini", "bulan ini"),
                        ("periode (1 year)", "periode")):
        spec = parse_period(text)

        def go(spec=spec) -> None:  # noqa: ANN001
            def work(s):  # noqa: ANN001, ANN202
                sc = scope_for(s, settings, OFFICER)
                return views.rekap_view(s, settings, sc, spec, NOW)
            view = db.call(work)
            assert "Kanwil Bench" in view.text
        out.append((f"Kanwil /rekap {label}", timed(f"Kanwil /rekap {label}", go, runs)))

    def chart() -> None:  # the ranking of the Kanwil's units: read, then render
        def work(s):  # noqa: ANN001, ANN202
            sc = scope_for(s, settings, OFFICER)
            return files.prepare_ranking(s, settings, sc, None, parse_period("periode"), NOW)
        assert files.render_file(db.call(work)).content
    out.append(("Kanwil /grafik periode (1 year)",
                timed("Kanwil /grafik periode (1 year)", chart, runs)))
    return out


def _pg_database() -> tuple[str, str]:
    name = f"apel_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def _pg_drop(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


TARGETS = {"/rekap periode (1 year)": 0.3, "/unduh periode (1 year)": 3.0,
           "/grafik periode (1 year)": 2.0, "Kanwil /rekap periode (1 year)": 2.0,
           "Kanwil /grafik periode (1 year)": 2.0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=30, help="units in the Kanwil (PostgreSQL)")
    parser.add_argument("--staff", type=int, default=300, help="staff per unit")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--keep-png", type=Path, help="write the workbook and chart here")
    parser.add_argument("--live", action="store_true",
                        help="leave closed apel uncounted: every figure classified live")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}

    print("SQLite: one unit, a year")
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'bench.db'}")
        build(db, settings_for(1), args.staff, count_apel=not args.live)
        for label, secs in measure_unit(db, settings_for(1), args.runs, args.keep_png):
            results.setdefault(label, {})["SQLite"] = secs
        db.dispose()

    if not args.no_postgres:
        name, url = _pg_database()
        try:
            print(f"PostgreSQL ({name}): one unit, a year")
            db = Database(url)
            build(db, settings_for(1), args.staff, count_apel=not args.live)
            for label, secs in measure_unit(db, settings_for(1), args.runs, None):
                results.setdefault(label, {})["PostgreSQL"] = secs
            db.dispose()
        finally:
            _pg_drop(name)
        name, url = _pg_database()
        try:
            print(f"PostgreSQL ({name}): a Kanwil of {args.units} units, a year")
            db = Database(url)
            kanwil = settings_for(args.units)
            build(db, kanwil, args.staff, count_apel=not args.live)
            for label, secs in measure_kanwil(db, kanwil, args.runs):
                results.setdefault(label, {})["PostgreSQL"] = secs
            db.dispose()
        finally:
            _pg_drop(name)

    print()
    print(f"{'command (service call, median)':<34} {'SQLite':>10} {'PostgreSQL':>11}  target")
    for label, by_db in results.items():
        cells = [f"{by_db[d] * 1000:>8.0f}ms" if d in by_db else f"{'-':>10}"
                 for d in ("SQLite", "PostgreSQL")]
        target = TARGETS.get(label)
        verdict = ""
        if target is not None:
            ok = all(v < target for v in by_db.values())
            verdict = f"< {target * 1000:.0f} ms {'ok' if ok else 'MISSED'}"
        print(f"{label:<34} {cells[0]:>10} {cells[1]:>11}  {verdict}")
    print(machine_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
