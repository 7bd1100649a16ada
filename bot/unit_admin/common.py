"""What the unit-administration services share: replies, who may act on whom, dates as people
type them, finding a person by name or NIP."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from bot.calendar.periods import DateWords as DateWords
from bot.calendar.periods import local_today as local_today
from bot.calendar.periods import split_dates as split_dates
from bot.delivery import outbox
from bot.org import people
from bot.org.access import Actor, kalapas_units, visible_units
from bot.org.models import Employee, Regu, Unit
from bot.platform.texts import render

# Roles as the roster spells them (Employee.role) and as grants spell them (RoleGrant.role).
ANGGOTA, KARUPAM, KPLP, KALAPAS, STAF = "anggota", "karupam", "kplp", "kalapas", "staf"
ADMIN, KANWIL, SATGAS = "admin", "kanwil", "satgas"
MAX_BUTTONS = 12


@dataclass
class Reply:
    """A message for the person who asked: a template, its context and optional buttons."""

    template: str
    context: dict = field(default_factory=dict)
    keyboard: list[list[dict]] | None = None

    def text(self) -> str:
        return render(self.template, **self.context)


@dataclass(frozen=True)
class Origin:
    """The bot message whose button was pressed, so its buttons can be closed."""

    chat_id: int
    message_id: int
    text_html: str


@dataclass
class PressOutcome:
    """What a button press gives back: a toast at once, maybe a new message."""

    toast: str
    reply: Reply | None = None


def result_reply(template: str) -> Callable[..., Reply]:
    """The `_reply(result, **context)` of a command whose answers share one template that
    switches on `result` (cuti_reply, tukar_reply, koreksi_reply, pakta_reply)."""
    def reply(result: str, **context: object) -> Reply:
        return Reply(template, {"result": result, **context})

    return reply


def unit_toast(result: str, **context: object) -> str:
    """The short answer to a unit command's button (messages/toast_unit.txt.j2)."""
    return render("toast_unit", result=result, **context)


def deliver(session: Session, *, chat_id: int, key: str, reply: Reply, now: datetime) -> None:
    outbox.send_message(session, key=key, chat_id=chat_id, text=reply.text(),
                        keyboard=reply.keyboard, now=now, priority=outbox.PRIORITY_REPLY)


def close_buttons(session: Session, origin: Origin | None, note: str, now: datetime,
                  key: str) -> None:
    """Edit the pressed message: its buttons go, a line says what was decided."""
    if origin is None or not origin.text_html:
        return
    outbox.enqueue(session, key=key, chat_id=origin.chat_id, method="editMessageText",
                   payload={"message_id": origin.message_id, "parse_mode": "HTML",
                            "text": origin.text_html + "\n\n" + note},
                   now=now, priority=outbox.PRIORITY_REPLY)


def notify(session: Session, to: Employee | None, key: str, template: str, now: datetime,
           /, **context: object) -> bool:
    """A private note to an employee who has opened a chat with the bot; False if we can't."""
    if to is None or not to.telegram_user_id or not to.private_chat_ok:
        return False
    outbox.send_message(session, key=key, chat_id=to.telegram_user_id,
                        text=render(template, **context), now=now,
                        priority=outbox.PRIORITY_REPLY)
    return True


def button(label_template: str, data: str, **context: object) -> dict:
    return outbox.button(render(label_template, **context), data)


# --- who may act on whom -----------------------------------------------------------------------


@dataclass(frozen=True)
class Jurisdiction:
    """The people an actor may act on: every unit (unit_ids None), some units, or one regu."""

    unit_ids: frozenset[int] | None
    regu_id: int | None = None

    def allows(self, employee: Employee) -> bool:
        if self.unit_ids is not None and employee.unit_id not in self.unit_ids:
            return False
        return self.regu_id is None or employee.regu_id == self.regu_id

    def allows_unit(self, unit_id: int) -> bool:
        return self.unit_ids is None or unit_id in self.unit_ids

    def filter(self, query):  # noqa: ANN001, ANN201 (a select() over Employee)
        if self.unit_ids is not None:
            query = query.where(col(Employee.unit_id).in_(self.unit_ids))
        if self.regu_id is not None:
            query = query.where(Employee.regu_id == self.regu_id)
        return query

    @property
    def whole_units(self) -> bool:
        return self.regu_id is None


def scope_for(session: Session, actor: Actor, roles: Iterable[str]) -> Jurisdiction | None:
    """The scope of a role among `roles` the actor holds; None: not allowed.

    admin: every unit; kplp: their unit; karupam: their regu; kalapas: the units they head
    (access.kalapas_units: on the roster, or the unit's configured Kalapas chat)."""
    wanted = set(roles)
    if ADMIN in wanted and actor.is_admin:
        return Jurisdiction(None)
    emp = actor.employee
    if emp is not None and emp.role in wanted and emp.role in (KARUPAM, KPLP):
        if emp.role == KPLP:
            return Jurisdiction(frozenset({emp.unit_id}))
        if emp.regu_id:
            return Jurisdiction(frozenset({emp.unit_id}), emp.regu_id)
    if KALAPAS in wanted:
        heads = kalapas_units(actor)
        if heads:
            return Jurisdiction(frozenset(heads))
    return None


def reader_scope(session: Session, actor: Actor) -> Jurisdiction | None:
    """Units whose lists this person may read: access.visible_units (Kalapas, Satgas, Kanwil
    officers, admins), plus their own unit for a Karupam or KPLP."""
    if actor.is_admin:
        return Jurisdiction(None)
    ids = {u.id for u in visible_units(session, actor)}
    if actor.employee is not None and actor.employee.role in (KARUPAM, KPLP):
        ids.add(actor.employee.unit_id)
    return Jurisdiction(frozenset(ids)) if ids else None


def units_in(session: Session, scope: Jurisdiction) -> list[Unit]:
    query = select(Unit).where(Unit.active).order_by(col(Unit.name))
    if scope.unit_ids is not None:
        query = query.where(col(Unit.id).in_(scope.unit_ids))
    return list(session.exec(query))


# --- people ------------------------------------------------------------------------------------

NIP_RE = re.compile(r"^\d{18}$")


def find_people(session: Session, scope: Jurisdiction, query: str, limit: int = MAX_BUTTONS
                ) -> list[Employee]:
    """Active employees in scope whose NIP or name contains `query` (people.search)."""
    return people.search(session, query, unit_ids=scope.unit_ids, regu_id=scope.regu_id,
                         limit=limit)


def regu_name(session: Session, regu_id: int | None) -> str | None:
    if regu_id is None:
        return None
    regu = session.get(Regu, regu_id)
    return regu.name if regu else None


# --- dates: the grammar is report_periods' (one parser for reports and unit commands) ---------

MAX_LEAVE_DAYS = 180
