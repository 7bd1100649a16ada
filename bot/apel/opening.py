"""Opening an apel: the frozen list of who is expected, one briefing per group, the audit
entry — one transaction; or, when the bot was down past the deadline, the apel recorded missed."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.apel import day_plan
from bot.apel.buttons import pledge_callback
from bot.apel.models import Apel, ApelExpected, Briefing
from bot.audit.log import record_event
from bot.calendar.duty import ApelPlan, LeaveSpan, Person, expected_people, standing
from bot.delivery import outbox
from bot.org.models import Employee, Leave, PledgePeriod, Regu, Unit
from bot.org.units import period_row
from bot.platform.config import Settings
from bot.platform.texts import render

log = logging.getLogger(__name__)


def private_briefing_key(apel_id: int, employee_id: int) -> str:
    """The outbox key of the briefing sent to the private chat of someone moved in (/tukar)."""
    return f"briefing-dm:{apel_id}:{employee_id}"



def _unit_row(session: Session, code: str) -> Unit:
    return session.exec(select(Unit).where(Unit.code == code)).one()


def leaves_on(session: Session, unit_id: int, day) -> list[LeaveSpan]:  # noqa: ANN001
    rows = session.exec(
        select(Leave.employee_id, Leave.start, Leave.end)
        .join(Employee, col(Employee.id) == Leave.employee_id)
        .where(Employee.unit_id == unit_id, Leave.start <= day, Leave.end >= day)
    ).all()
    return [LeaveSpan(*r) for r in rows]


def _people(session: Session, settings: Settings,
            unit_id: int) -> tuple[list[Person], dict[str, int]]:
    """The unit's people, as they stand the apel (config `attendance`), and its regu ids."""
    regu_ids = {r.name: r.id for r in session.exec(
        select(Regu).where(Regu.unit_id == unit_id, Regu.active))}
    names = {v: k for k, v in regu_ids.items()}
    rows = session.exec(select(Employee.id, Employee.role, Employee.regu_id).where(
        Employee.unit_id == unit_id, Employee.active)).all()
    return [standing(i, role, names.get(r) if r else None, settings.attendance)
            for i, role, r in rows], regu_ids


def _topic(period: PledgePeriod, plan: ApelPlan) -> str | None:
    if not period.topics:
        return None
    turn = plan.duty_date.toordinal() * 3 + ("pagi", "siang", "malam").index(plan.slot)
    return period.topics[turn % len(period.topics)]


def briefing_text(session: Session, apel: Apel, tally: tuple[int, int] | None = None) -> str:
    unit = session.get(Unit, apel.unit_id)
    period = session.get(PledgePeriod, apel.period_id)
    plan_like = ApelPlan(unit.code, apel.duty_date, apel.slot, apel.scheduled_at,
                         apel.scheduled_at, apel.late_after_at, apel.deadline_at, "", False)
    return render("briefing", unit=unit, apel=apel, period=period, topic=_topic(period, plan_like),
                  tally=tally)


def open_apel(session: Session, settings: Settings, plan: ApelPlan, now: datetime) -> Apel | None:
    """Open the apel once: freeze who is expected, queue a briefing per group. None if it exists."""
    unit = _unit_row(session, plan.unit_code)
    if _find(session, unit.id, plan) is not None:
        return None
    plan = day_plan.effective_plan(session, settings, unit.id, plan)  # regu swaps (/tukar)
    period = period_row(session, settings)
    apel = Apel(unit_id=unit.id, duty_date=plan.duty_date, slot=plan.slot, period_id=period.id,
                scheduled_at=plan.scheduled_at, late_after_at=plan.late_after_at,
                deadline_at=plan.deadline_at, opened_at=now, state="open",
                opened_late=(now - plan.scheduled_at).total_seconds() > 120)
    try:
        with session.begin_nested():
            session.add(apel)
            session.flush()
    except IntegrityError:
        return None  # another process opened it a moment ago
    people, regu_ids = _people(session, settings, unit.id)
    # Freeze the roster on duty; leave is applied when counting, so leave added later excuses too.
    # Person swaps (/tukar) move someone onto this apel, or away to another one of the day;
    # those moved in stand with the on-duty regu and get the briefing privately as well.
    moves = day_plan.moves_on(session, unit.id, plan.duty_date)
    expected = expected_people(plan, people, leaves=(), moves=moves)
    moved_in = {p.id for p in expected} - {p.id for p in expected_people(plan, people, ())}
    session.add_all([ApelExpected(apel_id=apel.id, employee_id=p.id,
                                  regu_id=regu_ids.get(plan.regu) if p.id in moved_in
                                  else regu_ids.get(p.regu) if p.regu else None)
                     for p in expected])
    groups: list[tuple[int | None, int]] = []
    on_duty = session.get(Regu, regu_ids[plan.regu]) if plan.regu in regu_ids else None
    if on_duty is not None:
        groups.append((on_duty.id, on_duty.chat_id))
    if plan.includes_administration and unit.admin_group_chat_id:
        groups.append((None, unit.admin_group_chat_id))
    text = briefing_text(session, apel)
    keyboard = [[outbox.button(render("button_pledge"), pledge_callback(apel.id))]]
    for regu_id, chat_id in groups:
        msg = outbox.send_message(session, key=f"briefing:{apel.id}:{chat_id}", chat_id=chat_id,
                                  text=text, keyboard=keyboard, now=now,
                                  priority=outbox.PRIORITY_BRIEFING)
        session.add(Briefing(apel_id=apel.id, regu_id=regu_id, chat_id=chat_id,
                             outbox_id=msg.id))
    for emp in session.exec(select(Employee).where(col(Employee.id).in_(moved_in))):
        if emp.telegram_user_id and emp.private_chat_ok:
            outbox.send_message(session, key=private_briefing_key(apel.id, emp.id),
                                chat_id=emp.telegram_user_id,
                                text=text + "\n\n" + render("briefing_moved", regu=plan.regu),
                                keyboard=keyboard, now=now, priority=outbox.PRIORITY_BRIEFING)
    record_event(session, kind="apel.opened", actor="scheduler", at=now, payload={
        "apel_id": apel.id, "unit_id": unit.id, "date": plan.duty_date.isoformat(),
        "slot": plan.slot, "expected": sorted(p.id for p in expected), "late": apel.opened_late})
    session.flush()
    log.info("apel %s %s %s opened (%d expected, %d groups)", unit.code, plan.duty_date,
             plan.slot, len(expected), len(groups))
    return apel


def _find(session: Session, unit_id: int, plan: ApelPlan) -> Apel | None:
    return session.exec(select(Apel).where(
        Apel.unit_id == unit_id, Apel.duty_date == plan.duty_date, Apel.slot == plan.slot)).first()


def record_missed(session: Session, settings: Settings, plan: ApelPlan,
                  now: datetime) -> Apel | None:
    """The bot was down through the whole apel: say so instead of pretending it happened."""
    unit = _unit_row(session, plan.unit_code)
    if _find(session, unit.id, plan) is not None:
        return None
    plan = day_plan.effective_plan(session, settings, unit.id, plan)
    apel = Apel(unit_id=unit.id, duty_date=plan.duty_date, slot=plan.slot,
                period_id=period_row(session, settings).id, scheduled_at=plan.scheduled_at,
                late_after_at=plan.late_after_at, deadline_at=plan.deadline_at,
                closed_at=now, state="missed")
    try:
        with session.begin_nested():
            session.add(apel)
            session.flush()
    except IntegrityError:
        return None
    outbox.send_message(session, key=f"missed:{apel.id}", chat_id=unit.kalapas_chat_id,
                        text=render("apel_missed", unit=unit, apel=apel, regu=plan.regu),
                        now=now, priority=outbox.PRIORITY_REPORT)
    record_event(session, kind="apel.missed", actor="scheduler", at=now, payload={
        "apel_id": apel.id, "unit_id": unit.id, "date": plan.duty_date.isoformat(),
        "slot": plan.slot})
    log.warning("apel %s %s %s missed (bot was down)", unit.code, plan.duty_date, plan.slot)
    return apel
