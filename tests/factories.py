"""Test data: employees and leave written straight to the database."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlmodel import Session, select

from bot.models import Employee, Leave, Regu, Unit

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
