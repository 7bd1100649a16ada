"""Grants of the roles beyond the roster: admin, Kanwil officer, Satgas member.

A grant lives in RoleGrant until revoked (revoked_at set; the row stays). Every change goes on
the audit record (role.granted / role.revoked). The first admins come from config.toml
(telegram.admin_user_ids); everyone after them is granted here, never from a display name.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from bot.audit.log import record_event
from bot.org.models import RoleGrant, Unit

GRANTABLE = ("admin", "kanwil", "satgas")


class GrantError(ValueError):
    """A grant that makes no sense; the message is for the operator (English)."""


class Change(enum.Enum):
    GRANTED = "granted"
    ALREADY = "already"
    REVOKED = "revoked"
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class Target:
    role: str
    unit_id: int | None
    kanwil: str | None


def target(session: Session, role: str, unit_code: str | None,
           kanwil: str | None) -> Target:
    """Check the scope a role needs: admin none, kanwil a known Kanwil, satgas a unit (or a
    Kanwil, for a Satgas serving every unit of one)."""
    if role not in GRANTABLE:
        raise GrantError(f"unknown role {role!r}; expected one of {', '.join(GRANTABLE)}")
    if unit_code and kanwil:
        raise GrantError("give --unit or --kanwil, not both")
    if role == "admin":
        if unit_code or kanwil:
            raise GrantError("an admin sees every unit; give neither --unit nor --kanwil")
        return Target(role, None, None)
    if role == "kanwil" and not kanwil:
        raise GrantError("a Kanwil officer needs --kanwil NAME")
    if role == "satgas" and not (unit_code or kanwil):
        raise GrantError("a Satgas member needs --unit CODE (or --kanwil NAME)")
    if unit_code:
        unit = session.exec(select(Unit).where(Unit.code == unit_code)).first()
        if unit is None:
            known = ", ".join(session.exec(select(Unit.code).order_by(col(Unit.code))))
            raise GrantError(f"unknown unit {unit_code!r}; known units: {known}")
        return Target(role, unit.id, None)
    known = sorted(set(session.exec(select(Unit.kanwil))))
    match = [k for k in known if k.casefold() == (kanwil or "").strip().casefold()]
    if not match:
        raise GrantError(f"unknown Kanwil {kanwil!r}; known: {'; '.join(known)}")
    return Target(role, None, match[0])


def _active(session: Session, user_id: int, t: Target) -> list[RoleGrant]:
    query = select(RoleGrant).where(RoleGrant.telegram_user_id == user_id,
                                    RoleGrant.role == t.role,
                                    col(RoleGrant.revoked_at).is_(None))
    query = query.where(col(RoleGrant.unit_id).is_(None) if t.unit_id is None
                        else RoleGrant.unit_id == t.unit_id)
    query = query.where(col(RoleGrant.kanwil).is_(None) if t.kanwil is None
                        else RoleGrant.kanwil == t.kanwil)
    return list(session.exec(query))


def grant(session: Session, *, user_id: int, t: Target, by: int | None, actor: str,
          now: datetime) -> tuple[Change, RoleGrant]:
    existing = _active(session, user_id, t)
    if existing:
        return Change.ALREADY, existing[0]
    row = RoleGrant(telegram_user_id=user_id, role=t.role, unit_id=t.unit_id, kanwil=t.kanwil,
                    granted_by=by, granted_at=now)
    session.add(row)
    session.flush()
    record_event(session, kind="role.granted", actor=actor, at=now, payload={
        "grant_id": row.id, "telegram_user_id": user_id, "role": t.role, "unit_id": t.unit_id,
        "kanwil": t.kanwil})
    return Change.GRANTED, row


def revoke(session: Session, *, user_id: int, t: Target, actor: str,
           now: datetime) -> tuple[Change, list[RoleGrant]]:
    rows = _active(session, user_id, t)
    for row in rows:
        row.revoked_at = now
        session.add(row)
        record_event(session, kind="role.revoked", actor=actor, at=now, payload={
            "grant_id": row.id, "telegram_user_id": user_id, "role": row.role,
            "unit_id": row.unit_id, "kanwil": row.kanwil})
    session.flush()
    return (Change.REVOKED if rows else Change.NOT_FOUND), rows


def grants(session: Session, *, user_id: int | None = None,
           include_revoked: bool = False) -> list[tuple[RoleGrant, str | None]]:
    """Grants with the unit code they name (if any), newest last."""
    query = (select(RoleGrant, Unit.code).outerjoin(Unit, col(Unit.id) == RoleGrant.unit_id)
             .order_by(col(RoleGrant.telegram_user_id), col(RoleGrant.id)))
    if user_id is not None:
        query = query.where(RoleGrant.telegram_user_id == user_id)
    if not include_revoked:
        query = query.where(col(RoleGrant.revoked_at).is_(None))
    return [(g, code) for g, code in session.exec(query)]
