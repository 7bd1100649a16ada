"""The integrity pact (pakta integritas): every employee reads it once per pledge period in a
private chat and signs it by typing their NIP. The Kalapas sees who has and has not signed;
those who have not are reminded at the configured cadence ([pakta] in config.toml)."""

from __future__ import annotations

import hashlib
import logging
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.audit.log import record_event
from bot.delivery import outbox
from bot.delivery.callbacks import register
from bot.delivery.models import OutboxMessage
from bot.org.access import Actor, visible_units
from bot.org.models import Employee, PledgePeriod, Regu, Unit
from bot.org.units import period_row
from bot.platform.config import Settings
from bot.platform.texts import render
from bot.unit_admin.common import (
    NIP_RE,
    Origin,
    PressOutcome,
    Reply,
    button,
    result_reply,
)
from bot.unit_admin.models import PaktaSignature

log = logging.getLogger(__name__)

BUTTONS = register("m", show=("t",))  # m:t, "show me the pact"
SHOW = BUTTONS.encode("show")
STATUS_NAMES = 60  # names listed per unit; the rest are counted
STATUS_UNITS = 10  # units listed in detail; more get counts only
SIGN_WORDS = ("baca", "tanda", "tandatangan", "tandatangani", "saya", "teks")


def pact_text(settings: Settings, period: PledgePeriod, employee: Employee, unit: Unit) -> str:
    """The pact as this employee reads and signs it (Telegram HTML)."""
    return render("pakta_text", period=period, custom=settings.period.pakta_text,
                  employee=employee, unit=unit)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _signature(session: Session, employee_id: int, period_id: int) -> PaktaSignature | None:
    return session.exec(select(PaktaSignature).where(
        PaktaSignature.employee_id == employee_id,
        PaktaSignature.period_id == period_id)).first()


_reply = result_reply("pakta_reply")


def show(session: Session, settings: Settings, *, employee: Employee, now: datetime,
         note: str | None = None) -> Reply:
    """Show the pact and note which text was shown, so the NIP typed next signs that text."""
    period = period_row(session, settings)
    unit = session.get(Unit, employee.unit_id)
    sig = _signature(session, employee.id, period.id)
    if sig is not None and sig.signed_at is not None:
        return _reply("already", signature=sig, unit=unit, period=period)
    text = pact_text(settings, period, employee, unit)
    if sig is None:
        sig = PaktaSignature(employee_id=employee.id, period_id=period.id,
                             text_sha256=digest(text), shown_at=now)
        try:
            with session.begin_nested():
                session.add(sig)
                session.flush()
        except IntegrityError:  # the same person, twice at once
            sig = _signature(session, employee.id, period.id)
    sig.text_sha256, sig.shown_at = digest(text), now
    session.add(sig)
    return Reply("pakta_show", {"pact": text, "period": period, "note": note})


def sign(session: Session, settings: Settings, *, actor: Actor, typed: str,
         now: datetime) -> Reply:
    """An 18-digit NIP typed in the private chat: the signature, if it is theirs."""
    employee = actor.employee
    if employee is None:
        return _reply("not_registered", typed=typed)
    period = period_row(session, settings)
    unit = session.get(Unit, employee.unit_id)
    sig = _signature(session, employee.id, period.id)
    if sig is not None and sig.signed_at is not None:
        return _reply("already", signature=sig, unit=unit, period=period)
    if sig is None:
        return show(session, settings, employee=employee, now=now, note="read_first")
    if typed != employee.nip:
        return _reply("wrong_nip")
    text = pact_text(settings, period, employee, unit)
    if digest(text) != sig.text_sha256:
        return show(session, settings, employee=employee, now=now, note="changed")
    sig.signed_at, sig.telegram_user_id = now, actor.telegram_user_id
    session.add(sig)
    session.flush()
    record_event(session, kind="pakta.signed", actor=f"tg:{actor.telegram_user_id}", at=now,
                 payload={"signature_id": sig.id, "employee_id": employee.id,
                          "period_id": period.id, "text_sha256": sig.text_sha256})
    log.info("pakta signed by employee %d for period %d", employee.id, period.id)
    return _reply("signed", signature=sig, unit=unit, period=period)


def command(session: Session, settings: Settings, *, actor: Actor, text: str,
            now: datetime) -> Reply:
    """/pakta: the status for those who read a unit's records, the pact for everyone else;
    `/pakta baca` shows a reader their own pact."""
    units = visible_units(session, actor)
    wants_own = text.strip().lower() in SIGN_WORDS
    if units and not wants_own:
        return status(session, settings, actor=actor, units=units)
    if actor.employee is None:
        return _reply("not_registered", typed="")
    return show(session, settings, employee=actor.employee, now=now)


def _signed(period_id: int):  # noqa: ANN202
    return select(PaktaSignature.id).where(
        PaktaSignature.employee_id == Employee.id, PaktaSignature.period_id == period_id,
        col(PaktaSignature.signed_at).is_not(None)).exists()


def status(session: Session, settings: Settings, *, actor: Actor, units: list[Unit]) -> Reply:
    """Per unit: how many signed, and who has not (by regu), as SQL counts."""
    period = period_row(session, settings)
    ids = [u.id for u in units]
    totals = dict(session.exec(select(Employee.unit_id, func.count()).where(
        col(Employee.unit_id).in_(ids), Employee.active).group_by(Employee.unit_id)).all())
    signed = dict(session.exec(
        select(Employee.unit_id, func.count())
        .join(PaktaSignature, col(PaktaSignature.employee_id) == Employee.id)
        .where(col(Employee.unit_id).in_(ids), Employee.active,
               PaktaSignature.period_id == period.id,
               col(PaktaSignature.signed_at).is_not(None))
        .group_by(Employee.unit_id)).all())
    rows = []
    for index, unit in enumerate(units):
        row = {"unit": unit, "total": totals.get(unit.id, 0), "signed": signed.get(unit.id, 0),
               "unsigned": [], "detail": index < STATUS_UNITS}
        if row["detail"]:
            row["unsigned"] = session.exec(
                select(Employee, Regu.name).outerjoin(Regu, col(Regu.id) == Employee.regu_id)
                .where(Employee.unit_id == unit.id, Employee.active, ~_signed(period.id))
                .order_by(col(Regu.name), col(Employee.name)).limit(STATUS_NAMES)).all()
        rows.append(row)
    mine = None
    keyboard = None
    if actor.employee is not None:
        mine = _signature(session, actor.employee.id, period.id)
        if mine is None or mine.signed_at is None:
            keyboard = [[button("button_read_pakta", SHOW)]]
    return Reply("pakta_status", {"period": period, "rows": rows, "mine": mine,
                                  "employee": actor.employee}, keyboard)


def press(session: Session, settings: Settings, *, actor: Actor, data: str | None,
          now: datetime, origin: Origin | None = None) -> PressOutcome:
    """Every `m:` button (`origin` unused: the pact's message keeps its button)."""
    if BUTTONS.decode(data) is None:
        return PressOutcome(render("toast_invalid"))
    if actor.employee is None:
        return PressOutcome(render("toast_unit", result="not_registered"))
    return PressOutcome(render("toast_unit", result="ok"),
                        show(session, settings, employee=actor.employee, now=now))


def is_nip(text: str) -> bool:
    return bool(NIP_RE.match(text.strip()))


# --- reminders ---------------------------------------------------------------------------------


def units_due(session: Session, settings: Settings, now: datetime) -> list[tuple[int, date]]:
    """(unit id, local date) of the units where a reminder round is due now: a reminder day
    (every reminder_days from the period start), at or after reminder_time, local time."""
    cadence = settings.pakta.reminder_days
    if cadence <= 0:
        return []
    period = settings.period
    due = []
    for unit_id, zone in session.exec(select(Unit.id, Unit.timezone).where(Unit.active)):
        local = now.astimezone(ZoneInfo(zone))
        today = local.date()
        if not period.start <= today <= period.end:
            continue
        if (today - period.start).days % cadence or local.time() < settings.pakta.reminder_time:
            continue
        due.append((unit_id, today))
    return due


def send_reminders(session: Session, settings: Settings, now: datetime,
                   unit_id: int | None = None) -> int:
    """Remind, once per reminder day, everyone registered who has not signed (in one unit, or
    in every unit that is due). Idempotent: the outbox key holds the person and the unit's
    local date."""
    due = [(u, d) for u, d in units_due(session, settings, now) if unit_id in (None, u)]
    if not due:
        return 0
    period = period_row(session, settings)
    queued = 0
    for uid, today in due:
        unit = session.get(Unit, uid)
        people = session.exec(select(Employee).where(
            Employee.unit_id == uid, Employee.active, Employee.private_chat_ok,
            col(Employee.telegram_user_id).is_not(None), ~_signed(period.id))).all()
        keyed = {f"pakta-remind:{period.id}:{e.id}:{today.isoformat()}": e for e in people}
        done: set[str] = set()
        keys = list(keyed)
        for i in range(0, len(keys), 500):
            done.update(session.exec(select(OutboxMessage.key).where(
                col(OutboxMessage.key).in_(keys[i:i + 500]))).all())
        for key, employee in keyed.items():
            if key in done:
                continue
            outbox.send_message(session, key=key, chat_id=employee.telegram_user_id,
                                text=render("pakta_reminder", employee=employee,
                                            period=period, unit=unit),
                                keyboard=[[button("button_read_pakta", SHOW)]], now=now,
                                priority=outbox.PRIORITY_NUDGE)
            queued += 1
    if queued:
        log.info("pakta reminders queued: %d", queued)
    return queued
