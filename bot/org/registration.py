"""Linking a Telegram account to an employee: /daftar <NIP>, confirmed by an authorised officer."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, select

from bot.audit.log import record_event
from bot.delivery import outbox
from bot.delivery.callbacks import number, register
from bot.org.access import approvers_for, may_approve
from bot.org.models import Employee, RegistrationRequest, Regu, Unit
from bot.platform.config import Settings
from bot.platform.texts import render

NIP_RE = re.compile(r"^\d{18}$")
# NIPs follow a pattern (birth date, appointment date, serial), so they can be guessed; claims
# per account are capped so nobody can walk the roster or flood the approvers.
MAX_CLAIMS_PER_DAY = 3
APPROVE, REFUSE = "a", "x"


def _request_key(request_id: int) -> str:
    """The outbox key prefix of a request's copies, one per approver."""
    return f"reg-ask:{request_id}:"


# The approver's buttons: r:a:<request id> (approve), r:x:<request id> (refuse).
_REQUEST = number("request")
BUTTONS = register("r", approve=(APPROVE, _REQUEST), refuse=(REFUSE, _REQUEST))


def parse_registration_callback(data: str | None) -> tuple[bool, int] | None:
    """`r:a:<id>` / `r:x:<id>` -> (approve?, request id); anything else -> None."""
    pressed = BUTTONS.decode(data)
    return (pressed.shape == "approve", pressed["request"]) if pressed else None


class Claim(enum.Enum):
    INVALID_NIP = "invalid_nip"
    UNKNOWN_NIP = "unknown_nip"
    ALREADY_LINKED = "already_linked"  # this account is this employee already
    ACCOUNT_TAKEN = "account_taken"  # this account is linked to someone else
    NIP_TAKEN = "nip_taken"  # the employee is linked to another account
    PENDING = "pending"  # a request is already waiting
    TOO_MANY = "too_many"  # too many claims from this account today
    REQUESTED = "requested"


@dataclass(frozen=True)
class ClaimOutcome:
    result: Claim
    employee: Employee | None = None
    request_id: int | None = None


def private_chat_unconfirmed(session: Session, telegram_user_id: int) -> bool:
    """A registered person not yet known to have a working private chat with the bot."""
    return session.exec(select(Employee.id).where(
        Employee.telegram_user_id == telegram_user_id,
        Employee.private_chat_ok == False)).first() is not None  # noqa: E712 (SQL)


def mark_started(session: Session, telegram_user_id: int) -> Employee | None:
    """The person wrote to the bot in a private chat (/start or anything else, a button
    included): the chat works, so from now on we may write to them."""
    employee = session.exec(select(Employee).where(
        Employee.telegram_user_id == telegram_user_id)).first()
    if employee is not None and not employee.private_chat_ok:
        employee.private_chat_ok = True
        session.add(employee)
    return employee


def claim(session: Session, settings: Settings, *, telegram_user_id: int, telegram_name: str,
          nip: str, now: datetime) -> ClaimOutcome:
    nip = nip.strip()
    if not NIP_RE.match(nip):
        return ClaimOutcome(Claim.INVALID_NIP)
    mine = session.exec(select(RegistrationRequest).where(
        RegistrationRequest.telegram_user_id == telegram_user_id,
        RegistrationRequest.created_at > now - timedelta(days=1))).all()
    waiting = [r for r in mine if r.state == "pending"]
    if waiting:  # one claim at a time; the answer names nobody
        return ClaimOutcome(Claim.PENDING, None, waiting[0].id)
    if len(mine) >= MAX_CLAIMS_PER_DAY:
        return ClaimOutcome(Claim.TOO_MANY)
    employee = session.exec(select(Employee).where(Employee.nip == nip, Employee.active)).first()
    if employee is None:
        return ClaimOutcome(Claim.UNKNOWN_NIP)
    if employee.telegram_user_id == telegram_user_id:
        employee.private_chat_ok = True
        session.add(employee)
        return ClaimOutcome(Claim.ALREADY_LINKED, employee)
    linked = session.exec(select(Employee).where(
        Employee.telegram_user_id == telegram_user_id)).first()
    if linked is not None:
        return ClaimOutcome(Claim.ACCOUNT_TAKEN, linked)
    if employee.telegram_user_id is not None:
        return ClaimOutcome(Claim.NIP_TAKEN, employee)
    request = RegistrationRequest(telegram_user_id=telegram_user_id,
                                  telegram_name=telegram_name[:200], employee_id=employee.id,
                                  created_at=now)
    session.add(request)
    session.flush()
    unit = session.get(Unit, employee.unit_id)
    regu = session.get(Regu, employee.regu_id) if employee.regu_id else None
    text = render("registration_request", employee=employee, unit=unit, regu=regu,
                  telegram_name=telegram_name, telegram_user_id=telegram_user_id)
    keyboard = [[outbox.button(render("button_approve"),
                               BUTTONS.encode("approve", request=request.id)),
                 outbox.button(render("button_refuse"),
                               BUTTONS.encode("refuse", request=request.id))]]
    for approver in approvers_for(session, settings, employee):
        outbox.send_message(session, key=f"{_request_key(request.id)}{approver}",
                            chat_id=approver,
                            text=text, keyboard=keyboard, now=now,
                            priority=outbox.PRIORITY_REPLY)
    record_event(session, kind="registration.requested", actor=f"tg:{telegram_user_id}", at=now,
                 payload={"request_id": request.id, "employee_id": employee.id,
                          "telegram_user_id": telegram_user_id})
    return ClaimOutcome(Claim.REQUESTED, employee, request.id)


class Decision(enum.Enum):
    NOT_FOUND = "not_found"
    NOT_ALLOWED = "not_allowed"
    ALREADY_DECIDED = "already_decided"
    CONFLICT = "conflict"  # linked meanwhile to another account
    APPROVED = "approved"
    REFUSED = "refused"


@dataclass(frozen=True)
class DecisionOutcome:
    result: Decision
    employee: Employee | None = None
    decided_by: str = ""  # the name the decision notes give, as leave decisions name them


def decider_name(session: Session, telegram_user_id: int, telegram_name: str | None) -> str:
    """Who decided, as every decision note names them: their name in the roster, else their
    Telegram name, else their Telegram id (an admin not in any roster)."""
    name = session.exec(select(Employee.name).where(
        Employee.telegram_user_id == telegram_user_id)).first()
    return name or telegram_name or str(telegram_user_id)


def decide(session: Session, settings: Settings, *, request_id: int, approver_user_id: int,
           approve: bool, now: datetime, by: str | None = None) -> DecisionOutcome:
    """Approve or refuse; the other approvers' copies of the request lose their buttons (the
    pressed one is the handler's to edit, with the outcome's `decided_by`). `by`: the
    decider's Telegram name, for a decider who is in no roster."""
    request = session.get(RegistrationRequest, request_id)
    if request is None:
        return DecisionOutcome(Decision.NOT_FOUND)
    employee = session.get(Employee, request.employee_id)
    if not may_approve(session, settings, approver_user_id, employee):
        return DecisionOutcome(Decision.NOT_ALLOWED, employee)
    if request.state != "pending":
        return DecisionOutcome(Decision.ALREADY_DECIDED, employee)
    request.decided_at, request.decided_by = now, approver_user_id
    taken = session.exec(select(Employee).where(
        Employee.telegram_user_id == request.telegram_user_id)).first()
    if approve and (employee.telegram_user_id is not None or taken is not None):
        request.state = "refused"
        session.add(request)
        record_event(session, kind="registration.refused", actor=f"tg:{approver_user_id}",
                     at=now, payload={"request_id": request.id, "employee_id": employee.id,
                                      "telegram_user_id": request.telegram_user_id,
                                      "conflict": True})
        return DecisionOutcome(Decision.CONFLICT, employee)
    request.state = "approved" if approve else "refused"
    session.add(request)
    if approve:
        employee.telegram_user_id = request.telegram_user_id
        employee.private_chat_ok = True  # they wrote /daftar in a private chat
        employee.updated_at = now
        session.add(employee)
    session.flush()
    decided_by = decider_name(session, approver_user_id, by)
    outbox.close_copies(session, key_prefix=_request_key(request.id), now=now,
                        note=render("decision_note", approved=approve, by=decided_by),
                        skip_chat_id=approver_user_id)
    outbox.send_message(session, key=f"reg-done:{request.id}", chat_id=request.telegram_user_id,
                        text=render("registration_decided", approved=approve, employee=employee),
                        now=now, priority=outbox.PRIORITY_REPLY)
    record_event(session, kind="registration.approved" if approve else "registration.refused",
                 actor=f"tg:{approver_user_id}", at=now,
                 payload={"request_id": request.id, "employee_id": employee.id,
                          "telegram_user_id": request.telegram_user_id})
    return DecisionOutcome(Decision.APPROVED if approve else Decision.REFUSED, employee,
                           decided_by)
