"""Apel, briefings and pledges written straight to the database, for the report tests.

The scenario (Lapas Palu, WITA; `seed_palu`):

26 Nov 2024, apel pagi (07.00 WITA, closed): Regu D (7) + administration (1).
    Regu D: Budi on time; Andi and Hendra late; Eko on leave (25-27 Nov);
            Sari, Dewi, Rudi missing.                  -> 7 | 1 | 2 | 1 | 3 -> 3/6 = 50%
    administration: Rina on time.                      -> 1 | 1 | 0 | 0 | 0 -> 100%
26 Nov, apel siang (closed): Regu A (Agus); the briefing failed -> Agus not reached.
26 Nov, apel malam: missed (the bot was down).
27 Nov, apel pagi (open): Regu D: Budi on time, Eko on leave, the other five pending.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlmodel import Session, select

from bot.apel.models import Apel, ApelExpected, Briefing, Pledge
from bot.calendar.duty import plan_apel
from bot.delivery.models import OutboxMessage
from bot.org.models import Employee, Regu, Unit
from bot.org.units import period_row
from bot.platform.config import Settings
from tests.factories import APEL_CREW, seed_crew

_seq = iter(range(1, 10**9))


def regu_id(session: Session, unit_code: str, name: str) -> int:
    unit = session.exec(select(Unit).where(Unit.code == unit_code)).one()
    return session.exec(select(Regu.id).where(Regu.unit_id == unit.id, Regu.name == name)).one()


def add_apel(session: Session, settings: Settings, unit_code: str, day: date, slot: str,
             people: list[Employee], *, state: str = "closed",
             failed_groups: tuple[int | None, ...] = ()) -> Apel:
    """An apel with its frozen roster and one briefing per group (delivered unless failed)."""
    plan = plan_apel(settings.unit(unit_code), day, slot, settings.calendar)
    unit = session.exec(select(Unit).where(Unit.code == unit_code)).one()
    period_id = period_row(session, settings).id
    apel = Apel(unit_id=unit.id, duty_date=day, slot=slot, period_id=period_id,
                scheduled_at=plan.scheduled_at, late_after_at=plan.late_after_at,
                deadline_at=plan.deadline_at, state=state,
                opened_at=None if state == "missed" else plan.scheduled_at,
                closed_at=plan.deadline_at if state != "open" else None)
    session.add(apel)
    session.flush()
    if state == "missed":
        return apel
    groups = {e.regu_id for e in people}
    for e in people:
        session.add(ApelExpected(apel_id=apel.id, employee_id=e.id, regu_id=e.regu_id))
    for group in groups:
        failed = group in failed_groups
        sent_at = plan.scheduled_at + timedelta(seconds=3)
        chat_id = -1_000_000 - (group or 0)
        msg = OutboxMessage(key=f"test-briefing:{next(_seq)}", chat_id=chat_id,
                            method="sendMessage", payload={}, state="failed" if failed else "sent",
                            next_attempt_at=plan.scheduled_at, created_at=plan.scheduled_at,
                            sent_at=None if failed else sent_at, message_id=None if failed else 1)
        session.add(msg)
        session.flush()
        session.add(Briefing(apel_id=apel.id, regu_id=group, chat_id=chat_id, outbox_id=msg.id))
    session.flush()
    return apel


def add_pledge(session: Session, apel: Apel, employee: Employee, minutes: float) -> Pledge:
    at = apel.scheduled_at + timedelta(minutes=minutes)
    row = Pledge(apel_id=apel.id, employee_id=employee.id,
                 telegram_user_id=employee.telegram_user_id or 10_000 + employee.id, chat_id=-1,
                 pledged_at=at, late=at > apel.late_after_at,
                 after_deadline=at > apel.deadline_at)
    session.add(row)
    session.flush()
    return row


@dataclass
class Palu:
    people: dict[str, Employee]
    pagi: Apel
    siang: Apel
    malam: Apel
    besok: Apel


def seed_palu(session: Session, settings: Settings, now: datetime) -> Palu:
    e = seed_crew(session, settings, now, APEL_CREW)
    regu_d = [e[k] for k in ("Hendra", "Budi", "Sari", "Andi", "Dewi", "Rudi", "Eko")]
    pagi = add_apel(session, settings, "lapas-palu", date(2024, 11, 26), "pagi",
                    [*regu_d, e["Rina"]])
    add_pledge(session, pagi, e["Budi"], 5)
    add_pledge(session, pagi, e["Rina"], 2)
    add_pledge(session, pagi, e["Andi"], 20)
    add_pledge(session, pagi, e["Hendra"], 45)  # after the deadline: still late, not missing
    siang = add_apel(session, settings, "lapas-palu", date(2024, 11, 26), "siang", [e["Agus"]],
                     failed_groups=(e["Agus"].regu_id,))
    malam = add_apel(session, settings, "lapas-palu", date(2024, 11, 26), "malam", [],
                     state="missed")
    besok = add_apel(session, settings, "lapas-palu", date(2024, 11, 27), "pagi", regu_d,
                     state="open")
    add_pledge(session, besok, e["Budi"], 3)
    return Palu(e, pagi, siang, malam, besok)
