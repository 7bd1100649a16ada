"""Test data: employees and leave written straight to the database; the Palu crew; the bot
running against the fake Bot API server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlmodel import Session, select

from bot.org.models import Employee, Leave, Regu, Unit
from bot.org.units import sync_config
from bot.platform.clock import FakeClock
from bot.platform.config import Settings
from bot.platform.db import Database
from fake_telegram.harness import BotUnderTest, add_unit_groups
from fake_telegram.server import FakeTelegram

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def utc(h: int, m: int, s: int = 0, day: int = 25) -> datetime:
    """A UTC instant in November 2024, the example period (23:00 UTC = 07.00 WITA next day)."""
    return datetime(2024, 11, day, h, m, s, tzinfo=UTC)


def nip(n: int) -> str:
    return f"19850725200912{n:04d}"


def add_employee(session: Session, unit_code: str, n: int, name: str, role: str = "anggota",
                 regu: str | None = None, tg: int | None = None,
                 started: bool = False) -> Employee:
    unit = session.exec(select(Unit).where(Unit.code == unit_code)).one()
    regu_id = None
    if regu is not None:
        regu_id = session.exec(select(Regu.id).where(Regu.unit_id == unit.id,
                                                     Regu.name == regu)).one()
    emp = Employee(nip=nip(n), name=name, role=role, unit_id=unit.id, regu_id=regu_id,
                   telegram_user_id=tg, private_chat_ok=started, updated_at=T0)
    session.add(emp)
    session.flush()
    return emp


def add_leave(session: Session, employee: Employee, start: date, end: date,
              reason: str = "cuti tahunan") -> Leave:
    leave = Leave(employee_id=employee.id, start=start, end=end, reason=reason, created_at=T0)
    session.add(leave)
    session.flush()
    return leave


# --- the Palu crew -------------------------------------------------------------------------------
# Lapas Palu's people as the tests know them (config.example.toml's units and regu), in two casts.
# NIPs follow the numbers (nip(n)); Telegram ids are the same in every test file.

KARUPAM_D, KPLP, KARUPAM_A, KALAPAS = 2001, 2002, 2003, 5000001
BUDI, SARI, ANDI, DEWI, AGUS, CITRA, RINA = 3001, 3002, 3003, 3004, 3101, 3201, 4001


@dataclass(frozen=True)
class Member:
    n: int
    name: str
    role: str = "anggota"
    regu: str | None = None
    tg: int | None = None
    started: bool = False  # has opened a private chat with the bot
    unit: str = "lapas-palu"
    leave: tuple[date, date] | None = None


# Tuesday 26 November 2024, apel pagi: Regu D (Eko on leave) with the administration (Rina);
# Agus stands siang with Regu A.
APEL_CREW = (
    Member(1, "Hendra Gunawan", "karupam", "Regu D", KARUPAM_D, True),
    Member(2, "Budi Santoso", "anggota", "Regu D", BUDI, True),
    Member(3, "Sari Wulandari", "anggota", "Regu D"),
    Member(4, "Andi Pratama", "anggota", "Regu D", ANDI, True),
    Member(5, "Dewi Lestari", "anggota", "Regu D", DEWI, True),
    Member(6, "Rudi Hartono", "anggota", "Regu D"),
    Member(7, "Eko Saputra", "anggota", "Regu D", leave=(date(2024, 11, 25), date(2024, 11, 27))),
    Member(8, "Rina Marlina", "staf", None, RINA, True),
    Member(9, "Agus Salim", "anggota", "Regu A", AGUS, True),
)

# Officers of every rank for the unit commands (/cuti, /tukar, /koreksi, /pakta); number 9,
# a Regu C guard, differs per test file.
UNIT_CREW = (
    Member(1, "Hendra Gunawan", "karupam", "Regu D", KARUPAM_D, True),
    Member(2, "Budi Santoso", "anggota", "Regu D", BUDI, True),
    Member(3, "Sari Wulandari", "anggota", "Regu D"),
    Member(4, "Dewi Lestari", "anggota", "Regu D", DEWI, True),
    Member(5, "Yusuf Kurniawan", "kplp", None, KPLP, True),
    Member(6, "Andi Karupam", "karupam", "Regu A", KARUPAM_A, True),
    Member(7, "Agus Salim", "anggota", "Regu A", AGUS, True),
    Member(8, "Rina Marlina", "staf", None, RINA, True),
    Member(10, "Ketut Kalapas", "kalapas", None, KALAPAS, True),
)


def seed_crew(session: Session, settings: Settings, now: datetime,
              crew: Iterable[Member], *, extra: Iterable[Member] = ()) -> dict[str, Employee]:
    """The configured units and regu (sync_config), then the crew and `extra`, in number
    order, with their leave. Returns the employees by first name."""
    sync_config(session, settings, now)
    people = {}
    for m in sorted([*crew, *extra], key=lambda m: m.n):
        emp = add_employee(session, m.unit, m.n, m.name, m.role, m.regu, m.tg, m.started)
        if m.leave is not None:
            add_leave(session, emp, *m.leave)
        people[m.name.split()[0]] = emp
    return people


@asynccontextmanager
async def running_bot(settings: Settings, db: Database, clock: FakeClock,
                      users: Iterable[tuple[int, str]], *, start: Iterable[int] = (),
                      started: Iterable[int] = ()) -> AsyncIterator[BotUnderTest]:
    """The fake Bot API server with every configured group and `users`, and the real bot on it.

    `start`: users who open the bot with /start (an update the bot answers); `started`: users
    who have done so before the test begins."""
    server = FakeTelegram()
    await server.start()
    try:
        add_unit_groups(server, settings)
        for uid, name in users:
            server.add_user(uid, name)
        for uid in started:
            server.user(uid).started = True
        for uid in start:
            server.user_start(uid)
        bot = BotUnderTest(settings, db, clock, server)
        await bot.start()
        try:
            yield bot
        finally:
            await bot.stop()
    finally:
        await server.stop()
