"""Corrections (/koreksi): the KPLP or the Kalapas excuses a person reported missing at a past
apel, with a reason. The apel's own records stay as they were; the correction is a new row
that every report reads (apel.closing.build_report shows the person as "dikoreksi").

Reports and exports read them with `bot.apel.classification.corrections_for`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.apel import counts as apel_counts
from bot.apel.closing import build_report
from bot.apel.models import Apel, ApelExpected, Correction
from bot.audit.log import record_event
from bot.delivery import outbox
from bot.delivery.callbacks import choice, number, register
from bot.org.access import Actor
from bot.org.models import Employee, Unit
from bot.platform.config import SLOTS, Settings
from bot.platform.texts import render
from bot.unit_admin.common import (
    ADMIN,
    KALAPAS,
    KPLP,
    Jurisdiction,
    Origin,
    PressOutcome,
    Reply,
    button,
    close_buttons,
    local_today,
    result_reply,
    scope_for,
    split_dates,
    unit_toast,
)

log = logging.getLogger(__name__)

REASONS = ("sampai", "tugas", "dinas", "sakit", "teknis")
BUTTONS = register(
    "k",
    # k:a:<apel>  the apel: list who is missing
    apel=("a", number("apel")),
    # k:e:<apel>:<employee>  the person: choose a reason
    person=("e", number("apel"), number("employee")),
    # k:r:<apel>:<employee>:<r>  record the correction
    reason=("r", number("apel"), number("employee"), choice("reason", REASONS)),
)
CORRECTORS = (ADMIN, KPLP, KALAPAS)
WINDOW_DAYS = 30  # how far back an apel may be corrected
LIST_APEL = 8
MAX_PEOPLE = 30


def reason_label(code: str) -> str:
    return render("koreksi_reason", code=code)


def correct_scope(session: Session, actor: Actor) -> Jurisdiction | None:
    return scope_for(session, actor, CORRECTORS)


_reply = result_reply("koreksi_reply")
_toast = unit_toast


def _correctable(session: Session, scope: Jurisdiction, apel: Apel | None,
                 now: datetime) -> str | None:
    if apel is None:
        return "not_found"
    if not scope.allows_unit(apel.unit_id):
        return "not_allowed"
    if apel.state != "closed":
        return "not_closed"
    unit = session.get(Unit, apel.unit_id)
    if apel.duty_date < local_today(unit.timezone, now) - timedelta(days=WINDOW_DAYS):
        return "too_old"
    return None


def _is_self(actor: Actor, employee_id: int) -> bool:
    return actor.employee is not None and actor.employee.id == employee_id


def _self_refused() -> PressOutcome:
    """Nobody excuses their own missed apel: another KPLP, the Kalapas or an admin does."""
    return PressOutcome(render("toast_own_record", what="koreksi"),
                        Reply("own_record_refused", {"what": "koreksi"}))


def _missing(session: Session, apel: Apel) -> list[Employee]:
    """Those the apel's report holds missing (not pledged by the deadline, not on leave, not
    corrected yet, their group reached)."""
    report = build_report(session, apel, apel.deadline_at)
    return [e for g in report.groups if g.reached for e in g.missing]


def command(session: Session, settings: Settings, *, actor: Actor, text: str,
            now: datetime) -> Reply:
    """/koreksi: recent closed apel to choose from; `/koreksi <tanggal> <apel>`: that apel."""
    if not actor.known:
        return _reply("not_registered")
    scope = correct_scope(session, actor)
    if scope is None:
        return _reply("not_allowed")
    units = {u.id: u for u in session.exec(select(Unit).where(Unit.active))
             if scope.allows_unit(u.id)}
    words = " ".join(text.split())
    if words:
        _, day_words, rest = split_dates(words)
        slot = rest.lower().removeprefix("apel").strip()
        by_code = {u.code: u for u in units.values()}
        parts = slot.split()
        code = next((p for p in parts if p in by_code), None)
        slot = " ".join(p for p in parts if p != code)
        if day_words is None or slot not in SLOTS:
            return Reply("koreksi_usage", {})
        chosen = [by_code[code]] if code else list(units.values())
        for unit in chosen:
            dates = day_words.resolve(local_today(unit.timezone, now))
            if dates is None:
                return Reply("koreksi_usage", {})
            apel = session.exec(select(Apel).where(
                Apel.unit_id == unit.id, Apel.duty_date == dates[0], Apel.slot == slot)).first()
            if apel is not None:
                return missing_list(session, actor=actor, apel_id=apel.id, now=now).reply \
                    or _reply("not_found")
        return _reply("no_apel")
    lo = min((local_today(u.timezone, now) for u in units.values()), default=None)
    if lo is None:
        return _reply("no_apel")
    apels = list(session.exec(select(Apel).where(
        col(Apel.unit_id).in_(list(units)), Apel.state == "closed",
        Apel.duty_date >= lo - timedelta(days=WINDOW_DAYS))
        .order_by(col(Apel.scheduled_at).desc()).limit(LIST_APEL)))
    rows = [{"apel": a, "unit": units[a.unit_id], "missing": len(_missing(session, a))}
            for a in apels]
    keyboard = [[button("button_apel", BUTTONS.encode("apel", apel=r["apel"].id), **r)]
                for r in rows if r["missing"]]
    return Reply("koreksi_list", {"rows": rows}, keyboard or None)


def _apel_to_correct(session: Session, actor: Actor, apel_id: int,
                     now: datetime) -> tuple[Apel, None] | tuple[None, str]:
    """The apel, if `actor` may correct it now; else why not (a toast key)."""
    scope = correct_scope(session, actor)
    if scope is None:
        return None, "not_allowed"
    apel = session.get(Apel, apel_id)
    problem = _correctable(session, scope, apel, now)
    return (None, problem) if problem else (apel, None)


def _person_to_correct(session: Session, actor: Actor, apel: Apel,
                       employee_id: int) -> tuple[Employee, None] | tuple[None, PressOutcome]:
    """Someone on the apel's roster other than `actor`; else the refusal to send."""
    employee = session.get(Employee, employee_id)
    if employee is None or session.get(ApelExpected, (apel.id, employee_id)) is None:
        return None, PressOutcome(_toast("not_found"))
    if _is_self(actor, employee.id):
        return None, _self_refused()
    return employee, None


def missing_list(session: Session, *, actor: Actor, apel_id: int,
                 now: datetime) -> PressOutcome:
    apel, problem = _apel_to_correct(session, actor, apel_id, now)
    if problem == "not_allowed":
        return PressOutcome(_toast(problem))
    if problem:
        return PressOutcome(_toast(problem), _reply(problem))
    missing = _missing(session, apel)
    unit = session.get(Unit, apel.unit_id)
    keyboard = [[button("button_person", BUTTONS.encode("person", apel=apel.id, employee=e.id),
                        person=e)]
                for e in missing[:MAX_PEOPLE] if not _is_self(actor, e.id)]
    return PressOutcome(_toast("ok"), Reply("koreksi_missing", {
        "apel": apel, "unit": unit, "missing": missing, "shown": MAX_PEOPLE}, keyboard or None))


def choose_reason(session: Session, *, actor: Actor, apel_id: int, employee_id: int,
                  now: datetime) -> PressOutcome:
    apel, problem = _apel_to_correct(session, actor, apel_id, now)
    if problem:
        return PressOutcome(_toast(problem))
    employee, refusal = _person_to_correct(session, actor, apel, employee_id)
    if refusal:
        return refusal
    keyboard = [[button("koreksi_reason", BUTTONS.encode(
        "reason", apel=apel.id, employee=employee.id, reason=r), code=r)]
                for r in REASONS]
    return PressOutcome(_toast("ok"), Reply("koreksi_choose_reason", {
        "apel": apel, "employee": employee, "unit": session.get(Unit, apel.unit_id)}, keyboard))


def record(session: Session, *, actor: Actor, apel_id: int, employee_id: int, code: str,
           now: datetime, origin: Origin | None = None) -> PressOutcome:
    apel, problem = _apel_to_correct(session, actor, apel_id, now)
    if problem:
        return PressOutcome(_toast(problem))
    employee, refusal = _person_to_correct(session, actor, apel, employee_id)
    if refusal:
        return refusal
    existing = session.exec(select(Correction).where(
        Correction.apel_id == apel.id, Correction.employee_id == employee.id)).first()
    if existing is not None:
        return PressOutcome(_toast("already_corrected"))
    if employee.id not in {e.id for e in _missing(session, apel)}:
        return PressOutcome(_toast("not_missing"))
    by_name = actor.employee.name if actor.employee else str(actor.telegram_user_id)
    row = Correction(apel_id=apel.id, employee_id=employee.id, reason_code=code,
                     reason=reason_label(code), by=actor.telegram_user_id, by_name=by_name,
                     at=now)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return PressOutcome(_toast("already_corrected"))
    apel_counts.changed(session, [apel.id])
    record_event(session, kind="correction.recorded", actor=f"tg:{actor.telegram_user_id}",
                 at=now, payload={"correction_id": row.id, "apel_id": apel.id,
                                  "employee_id": employee.id, "reason": code,
                                  "reason_text": row.reason})
    unit = session.get(Unit, apel.unit_id)
    context = {"apel": apel, "unit": unit, "employee": employee, "correction": row}
    if unit.kalapas_chat_id != actor.telegram_user_id:
        outbox.send_message(session, key=f"correction-note:{row.id}",
                            chat_id=unit.kalapas_chat_id,
                            text=render("koreksi_notice", **context), now=now,
                            priority=outbox.PRIORITY_REPORT)
    close_buttons(session, origin, render("koreksi_done_note", correction=row), now,
                  key=f"correction-close:{row.id}")
    log.info("correction %d: employee %d excused at apel %d (%s)", row.id, employee.id,
             apel.id, code)
    return PressOutcome(_toast("corrected", name=employee.name),
                        Reply("koreksi_saved", context))


def press(session: Session, settings: Settings, *, actor: Actor, data: str | None,
          now: datetime, origin: Origin | None = None) -> PressOutcome:
    """Every `k:` button, checked, with the presser's rights checked again."""
    pressed = BUTTONS.decode(data)
    if pressed is None:
        return PressOutcome(render("toast_invalid"))
    if pressed.shape == "apel":
        return missing_list(session, actor=actor, apel_id=pressed["apel"], now=now)
    if pressed.shape == "person":
        return choose_reason(session, actor=actor, apel_id=pressed["apel"],
                             employee_id=pressed["employee"], now=now)
    return record(session, actor=actor, apel_id=pressed["apel"],
                  employee_id=pressed["employee"], code=pressed["reason"], now=now,
                  origin=origin)
