"""`apel-bot demo`: one whole apel against an in-process fake Telegram, no token needed.

A temporary SQLite database, a fake clock moved by hand, the real Application and outbox.
Everything the groups and the Kalapas would see is printed as it is sent.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.org.roster import import_roster_file
from bot.org.units import sync_config
from bot.platform.clock import FakeClock
from bot.platform.config import Settings
from bot.platform.config_loading import parse_settings
from bot.platform.db import Database
from fake_telegram.harness import BotUnderTest
from fake_telegram.server import FakeTelegram

WITA = ZoneInfo("Asia/Makassar")
REGU_GROUP, ADMIN_GROUP, KALAPAS = -1001000000004, -1001000000099, 5000001
# (telegram id or None, NIP suffix, name, role, regu)
PEOPLE = [
    (2001, 1, "Hendra Gunawan", "karupam", "Regu D"),
    (3001, 2, "Budi Santoso", "anggota", "Regu D"),
    (3002, 3, "Sari Wulandari", "anggota", "Regu D"),
    (3003, 4, "Andi Pratama", "anggota", "Regu D"),
    (3004, 5, "Dewi Lestari", "anggota", "Regu D"),
    (None, 6, "Rudi Hartono", "anggota", "Regu D"),
    (4001, 7, "Rina Marlina", "staf", ""),
    (3101, 8, "Agus Salim", "anggota", "Regu A"),
]


def demo_settings(db_url: str, key_file: Path) -> Settings:
    regu = [{"name": f"Regu {c}", "chat_id": -1001000000000 - i} for i, c in enumerate("ABCD", 1)]
    return parse_settings({
        "database": {"url": db_url},
        "audit": {"key_file": str(key_file)},
        "period": {
            "name": "Pilkada 2024", "start": "2024-09-01", "end": "2024-12-31",
            "pledge_points": ["Menjaga dan menegakkan prinsip netralitas pegawai",
                              "Menghindari konflik kepentingan",
                              "Menggunakan media sosial secara bijak", "Menolak politik uang"],
            "topics": ["Jangan berfoto dengan gestur atau atribut pasangan calon."],
        },
        "units": [{
            "code": "lapas-palu", "name": "Lapas Kelas IIA Palu", "kind": "Lapas",
            "kanwil": "Kanwil Sulawesi Tengah", "timezone": "Asia/Makassar",
            "kalapas_chat_id": KALAPAS, "admin_group_chat_id": ADMIN_GROUP, "regu": regu,
            "rotation": {"anchor_date": "2024-11-01"},
        }],
    }, "demo")


def _roster_csv() -> bytes:
    lines = ["nip,nama,jabatan,unit,regu,telegram_id"]
    for tg, n, name, role, regu in PEOPLE:
        lines.append(f"19850725200912{n:04d},{name},{role},lapas-palu,{regu},{tg or ''}")
    return ("\n".join(lines) + "\n").encode()


class Narrator:
    def __init__(self, out: Callable[[str], None]) -> None:
        self.out = out

    def step(self, clock: FakeClock, local: datetime, what: str) -> None:
        clock.set(local)
        self.out(f"\n=== {local:%H:%M} WITA — {what} ===")


async def run_demo(out: Callable[[str], None] = print) -> dict[str, int]:
    with tempfile.TemporaryDirectory(prefix="apel-demo-") as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'demo.db'}")
        db.upgrade()
        settings = demo_settings(db.url, Path(tmp) / "audit.key")
        clock = FakeClock(datetime(2024, 11, 26, 6, 55, tzinfo=WITA))
        db.call(lambda s: sync_config(s, settings, clock.now()))
        result = db.call(lambda s: import_roster_file(s, _roster_csv(), "roster.csv", clock))
        out(f"Roster imported: {result.summary()}")
        server = FakeTelegram()
        server.observer = out
        await server.start()
        try:
            return await _one_apel(settings, db, clock, server, Narrator(out))
        finally:
            await server.stop()
            db.dispose()


async def _one_apel(settings: Settings, db: Database, clock: FakeClock, server: FakeTelegram,
                    say: Narrator) -> dict[str, int]:
    unit = settings.units[0]
    for regu in unit.regu:
        server.add_group(regu.chat_id, regu.name)
    server.add_group(ADMIN_GROUP, "Staf administrasi")
    server.add_user(KALAPAS, "Kalapas")
    server.user_start(KALAPAS)
    for tg, _n, name, _role, _regu in PEOPLE:
        if tg:
            server.add_user(tg, name.split()[0], name.split()[1])
    server.add_user(9999, "Tamu")
    server.user_start(3004)  # Dewi has opened a private chat with the bot: she gets a DM nudge

    async with BotUnderTest(settings, db, clock, server) as bot:
        day = datetime(2024, 11, 26, tzinfo=WITA)
        say.step(clock, day.replace(hour=7, minute=0, second=5), "apel pagi opens (Regu D)")
        await bot.reconcile()
        briefing = server.last_message(REGU_GROUP)
        admin = server.last_message(ADMIN_GROUP)
        data = briefing.button_data("Saya berikrar")

        async def press(user: int, chat: int, message_id: int, who: str) -> None:
            say.out(f"--> {who} presses 'Saya berikrar'")
            qid = server.press(user, chat, message_id, data)
            await server.wait_for(lambda: qid in server.callback_answers)

        say.step(clock, day.replace(hour=7, minute=3), "guards press the button")
        await press(3001, REGU_GROUP, briefing.message_id, "Budi")
        await press(3001, REGU_GROUP, briefing.message_id, "Budi (again)")
        await press(2001, REGU_GROUP, briefing.message_id, "Hendra (Karupam)")
        await press(9999, REGU_GROUP, briefing.message_id, "an unregistered account")
        await press(3101, REGU_GROUP, briefing.message_id, "Agus (Regu A, off duty)")
        await press(4001, ADMIN_GROUP, admin.message_id, "Rina (administration)")
        say.step(clock, day.replace(hour=7, minute=8), "the tally on the briefing is updated")
        await bot.refresh_tallies()
        say.step(clock, day.replace(hour=7, minute=20), "a late pledge")
        await press(3003, REGU_GROUP, briefing.message_id, "Andi")
        say.step(clock, day.replace(hour=7, minute=30, second=5),
                 "deadline: report to the Kalapas, nudges")
        summary = await bot.reconcile()
        say.step(clock, day.replace(hour=7, minute=42), "after the deadline")
        await press(3004, REGU_GROUP, briefing.message_id, "Dewi")
        await bot.settle()
    return {"opened": 1, "closed": summary.closed, "messages": server.sent_count}


def main() -> int:
    figures = asyncio.run(run_demo())
    print(f"\nDemo finished: {figures['messages']} messages sent through the outbox.")
    return 0
