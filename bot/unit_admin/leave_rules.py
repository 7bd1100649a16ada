"""Leave's shared rules: the `c:` buttons, the reasons, who manages whose leave, the date checks.

Every part of /cuti (bot/unit_admin/leave.py and its leave_* neighbours) decides with these.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlmodel import Session, col, select

from bot.delivery.callbacks import calendar_day, choice, number, register
from bot.org.access import Actor
from bot.org.models import Employee, Leave, Unit
from bot.platform.texts import render
from bot.unit_admin.common import (
    ADMIN,
    KARUPAM,
    KPLP,
    MAX_LEAVE_DAYS,
    Jurisdiction,
    Reply,
    local_today,
    scope_for,
)

REASONS = ("c", "s", "d", "k", "l")  # cuti, sakit, dinas luar, diklat, lainnya
BUTTONS = register(
    "c",
    # c:d:<employee>:<start>:<end>:<reason|->  an officer's leave being put together
    officer=("d", number("employee"), calendar_day("start"), calendar_day("end"),
             choice("reason", (*REASONS, "-"))),
    # c:q:<start>:<end>:<reason>  a guard's own request, with its reason
    own=("q", calendar_day("start"), calendar_day("end"), choice("reason", REASONS)),
    # approve / refuse a request
    approve=("a", number("request")),
    refuse=("n", number("request")),
    # end a leave early: ask, then confirm
    ask_end=("x", number("leave")),
    end=("y", number("leave")),
)
_REASON_WORDS = {"cuti": "c", "sakit": "s", "dinas": "d", "dinas luar": "d", "dl": "d",
                 "diklat": "k", "pelatihan": "k", "lainnya": "l", "lain": "l", "izin": "l"}
MANAGERS = (ADMIN, KPLP, KARUPAM)
BACKDATE_DAYS = 7  # officers may record leave that began up to a week ago (a late sick note)


def manage_scope(session: Session, actor: Actor) -> Jurisdiction | None:
    """Admins: everyone; the KPLP: the unit; a Karupam: their regu."""
    return scope_for(session, actor, MANAGERS)


def reason_text(code: str, note: str = "") -> str:
    label = render("leave_reason", code=code)
    return (f"{label}: {note}" if note else label)[:200]


def parse_reason(text: str) -> tuple[str | None, str]:
    """'sakit demam' -> ('s', 'demam'); unknown words -> ('l', the words); '' -> (None, '')."""
    words = text.split()
    if not words:
        return None, ""
    first = words[0].lower().strip(":,.")
    two = " ".join(w.lower().strip(":,.") for w in words[:2])
    if two in _REASON_WORDS:
        code, rest = _REASON_WORDS[two], words[2:]
    elif first in _REASON_WORDS:
        code, rest = _REASON_WORDS[first], words[1:]
    else:
        return "l", text.strip()[:150]
    return code, " ".join(rest).strip(":-– ")[:150]


def unit_of(session: Session, employee: Employee) -> Unit:
    """The employee's unit."""
    return session.get(Unit, employee.unit_id)


def employee_today(session: Session, employee: Employee, now: datetime) -> date:
    """Today in the employee's unit's timezone."""
    return local_today(unit_of(session, employee).timezone, now)


def is_self(actor: Actor, employee: Employee) -> bool:
    """Whether the actor is `employee` (one's own leave is a request, not a record)."""
    return actor.employee is not None and employee.id == actor.employee.id


def self_refused() -> Reply:
    """The reply refusing to record one's own leave."""
    return Reply("own_record_refused", {"what": "cuti"})


def check_dates(session: Session, employee: Employee, start: date, end: date, now: datetime,
                *, backdate: int) -> str | None:
    """None if start..end may be recorded, else the cuti_reply key saying why."""
    today = employee_today(session, employee, now)
    if end < start:
        return "end_before_start"
    if (end - start).days >= MAX_LEAVE_DAYS:
        return "too_long"
    if start < today - timedelta(days=backdate):
        return "too_early"
    if start > today + timedelta(days=366):
        return "too_far"
    return None


def overlapping(session: Session, employee_id: int, start: date, end: date) -> Leave | None:
    """The first leave of the employee that overlaps start..end, if any."""
    return session.exec(select(Leave).where(
        Leave.employee_id == employee_id, Leave.start <= end, Leave.end >= start,
        Leave.end >= Leave.start).order_by(col(Leave.start))).first()
