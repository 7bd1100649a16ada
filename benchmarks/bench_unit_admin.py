"""Running the unit from Telegram, at the size of a large unit: /pakta for the Kalapas, the pact
reminders, per-role menus, /cuti's list, /jadwal and opening an apel with person swaps.

    python -m benchmarks.bench_unit_admin [--staff 2000] [--runs 5] [--postgres]

One unit (Lapas Palu of config.example.toml) with --staff employees in four regu plus
administration, all registered and started; half signed the pact, 5% on leave today, 50
person swaps today. Each figure is the median wall time of the service call the handler or
the scheduler makes (one transaction), on SQLite (a temporary file) and, with --postgres, in a
fresh PostgreSQL database created and dropped by the script.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy import insert
from sqlmodel import select

from bot.apel import opening
from bot.apel.models import DutySwap
from bot.calendar.duty import plan_apel
from bot.delivery.models import OutboxMessage
from bot.org import menus
from bot.org.access import actor_for
from bot.org.models import Employee, Leave, Regu, Unit
from bot.org.units import period_row, sync_config
from bot.platform.config_loading import load_settings
from bot.platform.db import Database
from bot.unit_admin import leave, pakta, schedule
from bot.unit_admin.models import PaktaSignature

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = os.environ.get("APEL_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
NOW = datetime(2024, 11, 27, 1, 0, tzinfo=UTC)  # 09.00 WITA, a pact reminder day
DAY = date(2024, 11, 27)
KALAPAS = 1_000_000
TABLE = [menus.MenuCommand("koreksi", "Koreksi", frozenset({"kplp", "kalapas", "admin"})),
         menus.MenuCommand("cuti", "Catat cuti", frozenset({"karupam", "kplp", "admin"})),
         menus.MenuCommand("cuti", "Ajukan cuti", frozenset({"pegawai"})),
         menus.MenuCommand("jadwal", "Jadwal", frozenset({"pegawai"})),
         menus.MenuCommand("bantuan", "Bantuan")]


def seed(db: Database, settings, staff: int) -> None:  # noqa: ANN001
    def work(s) -> None:  # noqa: ANN001
        sync_config(s, settings, NOW)
        unit = s.exec(select(Unit).where(Unit.code == "lapas-palu")).one()
        regu = [r.id for r in s.exec(select(Regu).where(Regu.unit_id == unit.id))]
        period = period_row(s, settings)
        rows = []
        for i in range(staff):
            role = "kalapas" if i == 0 else ("karupam" if i % 50 == 1 else "anggota")
            rows.append({"nip": f"19850725{i:010d}", "name": f"Pegawai {i:05d}", "role": role,
                         "unit_id": unit.id, "regu_id": None if i % 10 == 0 else regu[i % 4],
                         "telegram_user_id": KALAPAS + i, "private_chat_ok": True,
                         "active": True, "updated_at": NOW - timedelta(days=30)})
        s.execute(insert(Employee), rows)
        ids = list(s.exec(select(Employee.id).order_by(Employee.id)))
        s.execute(insert(PaktaSignature), [
            {"employee_id": e, "period_id": period.id, "text_sha256": "0" * 64,
             "shown_at": NOW - timedelta(days=5), "signed_at": NOW - timedelta(days=5),
             "telegram_user_id": KALAPAS + n} for n, e in enumerate(ids) if n % 2])
        s.execute(insert(Leave), [
            {"employee_id": e, "start": DAY - timedelta(days=1), "end": DAY + timedelta(days=2),
             "reason": "Cuti", "created_by": "bench", "created_at": NOW}
            for n, e in enumerate(ids) if n % 20 == 3])
        s.execute(insert(DutySwap), [
            {"unit_id": unit.id, "duty_date": DAY, "slot": "malam", "employee_id": e,
             "created_by": KALAPAS, "created_at": NOW} for e in ids[5:55]])

    db.call(work)
    if not db.is_sqlite:
        with db.engine.connect() as conn:  # what autovacuum would have done by now
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")


def timed(runs: int, fn: Callable[[], object]) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000, result


def bench(db: Database, label: str, staff: int, runs: int) -> None:
    settings = load_settings(ROOT / "config.example.toml")
    db.upgrade()
    seed(db, settings, staff)
    kalapas = db.call(lambda s: actor_for(s, settings, KALAPAS))
    print(f"\n{label}: one unit, {staff} staff")
    ms, _ = timed(runs, lambda: db.call(lambda s: pakta.command(
        s, settings, actor=kalapas, text="", now=NOW).text()))
    print(f"  /pakta status for the Kalapas (render included)  {ms:8.1f} ms")
    ms, first = timed(1, lambda: db.call(lambda s: pakta.send_reminders(s, settings, NOW)))
    print(f"  pact reminders, first run ({first} queued)       {ms:8.1f} ms")
    ms, again = timed(runs, lambda: db.call(lambda s: pakta.send_reminders(s, settings, NOW)))
    print(f"  pact reminders, again the same day ({again})      {ms:8.1f} ms")
    ms, queued = timed(1, lambda: db.call(lambda s: menus.sync(s, settings, TABLE, NOW,
                                                               full=True)))
    print(f"  menus, full sync at start-up ({queued} queued)   {ms:8.1f} ms")
    ms, none = timed(runs, lambda: db.call(lambda s: menus.sync(s, settings, TABLE, NOW)))
    print(f"  menus, periodic sync, nothing changed ({none})     {ms:8.1f} ms")
    ms, _ = timed(runs, lambda: db.call(lambda s: leave.command(
        s, settings, actor=kalapas, text="", now=NOW).text()))
    print(f"  /cuti list of today ({staff // 20} on leave)             {ms:8.1f} ms")
    ms, _ = timed(runs, lambda: db.call(lambda s: schedule.schedule(
        s, settings, actor=kalapas, text="", now=NOW).text()))
    print(f"  /jadwal with 50 person swaps                     {ms:8.1f} ms")
    plan = plan_apel(settings.unit("lapas-palu"), DAY, "malam", settings.calendar)
    ms, opened = timed(1, lambda: db.call(lambda s: opening.open_apel(
        s, settings, plan, NOW + timedelta(hours=10))))
    expected = db.call(lambda s: len(s.exec(select(OutboxMessage).where(
        OutboxMessage.key.startswith(f"briefing-dm:{opened.id}:"))).all()))  # type: ignore
    print(f"  open_apel malam with 50 moved in ({expected} DMs)      {ms:8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--staff", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/bench.db")
        bench(db, "SQLite", args.staff, args.runs)
        db.dispose()
    if args.postgres:
        name = f"apel_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            db = Database(PG_ADMIN.rsplit("/", 1)[0] + "/" + name)
            bench(db, "PostgreSQL", args.staff, args.runs)
            db.dispose()
        finally:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
