"""An announcement to 2,000 groups, through the real OutboxSender with its default Limits
(about 28 msg/s), against the fake Bot API server with Telegram's limits enforced
(30 msg/s per bot, 20/min per group, 429 past them).

    python -m benchmarks.bench_announce [--groups 2000] [--db sqlite|postgres]

400 units of 4 regu groups and 1 administration group each, 9 people per unit. Prints the
time to record the announcement (one transaction: posts, frozen expected list, outbox rows),
the time from the sender's start to the last post, the rate against the 30/s limit, the 429
answers (should be 0), then one tally pass after everyone confirmed and the /dibaca report
with its XLSX.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import insert
from sqlmodel import select
from telegram import Bot

from bot.announcements import periodic, read_report, readers_xlsx, sending, tally
from bot.announcements.models import Acknowledgement
from bot.delivery.models import OutboxMessage
from bot.org.models import Employee, Regu, Unit
from bot.org.units import sync_config
from bot.platform.clock import SystemClock
from bot.platform.config import Settings
from bot.platform.config_loading import parse_settings
from bot.platform.db import Database
from bot.telegram.pacing import Limits
from bot.telegram.sender import OutboxSender
from fake_telegram.deployment import database, print_figures
from fake_telegram.server import FakeTelegram

TOKEN = "123456:BENCH-token-for-the-fake-server-only"  # noqa: S105
ADMIN = 1
ZONES = ("Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura")


def settings_for(units: int) -> Settings:
    def unit(i: int) -> dict:
        return {
            "code": f"u{i:04d}", "name": f"Lapas Uji {i:04d}", "kind": "Lapas",
            "kanwil": f"Kanwil {i % 33:02d}", "timezone": ZONES[i % 3],
            "kalapas_chat_id": 7_000_000 + i, "admin_group_chat_id": -(3_000_000_000 + i),
            "regu": [{"name": f"Regu {c}", "chat_id": -(1_000_000_000 + i * 4 + k)}
                     for k, c in enumerate("ABCD")],
            "rotation": {"anchor_date": "2024-11-01"},
        }

    return parse_settings({
        "telegram": {"admin_user_ids": [ADMIN]},
        "period": {"name": "Pilkada 2024", "start": "2024-09-01", "end": "2024-12-31",
                   "pledge_points": ["Menjaga netralitas", "Menghindari konflik kepentingan",
                                     "Bijak bermedia sosial", "Menolak politik uang"]},
        "units": [unit(i) for i in range(units)],
    }, "benchmark")


def seed(db: Database, settings: Settings, now: datetime) -> None:
    def work(s):  # noqa: ANN001, ANN202
        sync_config(s, settings, now)
        regus = s.exec(select(Regu.unit_id, Regu.id)).all()
        rows, n = [], 0
        for unit_id, regu_id in regus:
            for _ in range(2):
                n += 1
                rows.append({"nip": f"1985{n:014d}", "name": f"Pegawai {n}", "role": "anggota",
                             "unit_id": unit_id, "regu_id": regu_id,
                             "telegram_user_id": 10_000_000 + n, "updated_at": now})
        for unit_id in s.exec(select(Unit.id)).all():
            n += 1
            rows.append({"nip": f"1985{n:014d}", "name": f"Staf {n}", "role": "staf",
                         "unit_id": unit_id, "regu_id": None,
                         "telegram_user_id": 10_000_000 + n, "updated_at": now})
        s.exec(insert(Employee), params=rows)

    db.call(work)


async def bench(groups: int, db_kind: str) -> dict:
    units = max(1, groups // 5)
    settings = settings_for(units)
    clock = SystemClock()
    server = FakeTelegram(enforce_limits=True)
    await server.start()
    for u in settings.units:
        for r in u.regu:
            server.add_group(r.chat_id, f"{u.name} {r.name}")
        server.add_group(u.admin_group_chat_id, f"{u.name} Administrasi")
    group_chats = {r.chat_id for u in settings.units for r in u.regu} | {
        u.admin_group_chat_id for u in settings.units}
    with tempfile.TemporaryDirectory() as tmp, database(db_kind, Path(tmp)) as url:
        db = Database(url)
        db.upgrade()
        seed(db, settings, clock.now())
        t = time.monotonic()
        outcome = db.call(lambda s: sending.send(
            s, settings, sender_user_id=ADMIN, draft_key="bench:1",
            text_html="<b>Surat edaran</b> netralitas pegawai menjelang Pilkada.",
            media_kind=None, media_file_id=None, scope="all", now=clock.now()))
        record_s = time.monotonic() - t
        ann = outcome.announcement
        bot = Bot(TOKEN, base_url=server.base_url, base_file_url=server.base_file_url)
        await bot.initialize()
        sender = OutboxSender(db, bot, clock, limits=Limits())

        def posted() -> list:
            return [c for c in server.calls("sendMessage") if c.ok and c.chat_id in group_chats]

        started = time.monotonic()
        task = asyncio.create_task(sender.run())
        try:
            while len(posted()) < ann.group_count:
                if time.monotonic() - started > ann.group_count / 10 + 120:
                    raise TimeoutError("the fan-out did not finish in time")
                await asyncio.sleep(0.1)
        finally:
            await sender.stop()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await bot.shutdown()
            await server.stop()
        sent = posted()
        first, last = sent[0].time, sent[-1].time
        per_chat: dict[int, int] = {}
        for c in sent:
            per_chat[c.chat_id] = per_chat.get(c.chat_id, 0) + 1

        # Everyone confirms; then one tally pass over every post.
        def confirm_all(s):  # noqa: ANN001, ANN202
            people = s.exec(select(Employee.id, Employee.telegram_user_id)).all()
            now = clock.now()
            s.exec(insert(Acknowledgement), params=[
                {"announcement_id": ann.id, "employee_id": e, "telegram_user_id": tg,
                 "chat_id": 0, "acknowledged_at": now} for e, tg in people])

        db.call(confirm_all)
        t = time.monotonic()
        edits = db.call(lambda s: tally.refresh_tallies(
            s, clock.now() + timedelta(seconds=10), 5))
        tally_s = time.monotonic() - t
        t = time.monotonic()
        idle = db.call(lambda s: periodic.refresh(s, settings, clock.now()
                                                  + timedelta(seconds=20)))
        idle_s = time.monotonic() - t
        t = time.monotonic()
        report = db.call(lambda s: read_report.follow_up(
            s, settings, telegram_user_id=ADMIN, announcement_id=ann.id)).report
        xlsx = readers_xlsx.workbook(report)
        report_s = time.monotonic() - t
        pending = db.call(lambda s: len(s.exec(select(OutboxMessage.id).where(
            OutboxMessage.state == "pending", OutboxMessage.method == "sendMessage")).all()))
        db.dispose()
    return {
        "groups": ann.group_count,
        "people expected": ann.expected_count,
        "record announcement s": record_s,
        "posts delivered": len(sent),
        "groups with exactly one post": sum(1 for n in per_chat.values() if n == 1),
        "first post after sender start s": first - started,
        "time to last post s": last - started,
        "rate msg/s": (len(sent) - 1) / (last - first),
        "rate vs 30/s limit": f"{100 * (len(sent) - 1) / (last - first) / 30:.1f}%",
        "429 answers (server)": server.count_429,
        "429 seen by sender": sender.stats["429"],
        "posts still pending": pending,
        "tally pass, all confirmed s": tally_s,
        "tally edits queued": edits,
        "idle periodic pass s": idle_s,
        "idle pass queued": idle,
        "/dibaca report + XLSX s": report_s,
        "XLSX bytes": len(xlsx),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--groups", type=int, default=2000)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    figures = asyncio.run(bench(args.groups, args.db))
    print_figures(f"announcement fan-out benchmark ({args.db}, default Limits, limits enforced)",
                  figures)


if __name__ == "__main__":
    main()
