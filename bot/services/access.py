"""Who may do what. Roles come from the roster (jabatan) and from grants, never display names."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session, select

from bot.config import Settings
from bot.models import Employee, RoleGrant


@dataclass(frozen=True)
class Actor:
    telegram_user_id: int
    employee: Employee | None
    grants: frozenset[str] = field(default_factory=frozenset)
    is_admin: bool = False

    @property
    def role(self) -> str | None:
        return self.employee.role if self.employee else None

    @property
    def roles(self) -> frozenset[str]:
        own = {self.employee.role} if self.employee else set()
        return frozenset(own | set(self.grants) | ({"admin"} if self.is_admin else set()))


def actor_for(session: Session, settings: Settings, telegram_user_id: int) -> Actor:
    employee = session.exec(select(Employee).where(
        Employee.telegram_user_id == telegram_user_id, Employee.active)).first()
    grants = frozenset(session.exec(select(RoleGrant.role).where(
        RoleGrant.telegram_user_id == telegram_user_id,
        RoleGrant.revoked_at.is_(None))).all())  # type: ignore[union-attr]
    is_admin = telegram_user_id in settings.telegram.admin_user_ids or "admin" in grants
    return Actor(telegram_user_id, employee, grants, is_admin)


def approvers_for(session: Session, settings: Settings, employee: Employee) -> list[int]:
    """Telegram ids who may confirm this person's registration: Karupam, KPLP, admins."""
    ids: list[int] = []
    officers = session.exec(select(Employee).where(
        Employee.unit_id == employee.unit_id, Employee.active,
        Employee.telegram_user_id.is_not(None))).all()  # type: ignore[union-attr]
    for officer in officers:
        if officer.role == "kplp" or (
                officer.role == "karupam" and officer.regu_id == employee.regu_id
                and employee.regu_id is not None):
            ids.append(officer.telegram_user_id)
    admin_grants = session.exec(select(RoleGrant.telegram_user_id).where(
        RoleGrant.role == "admin", RoleGrant.revoked_at.is_(None))).all()  # type: ignore
    for admin in [*settings.telegram.admin_user_ids, *admin_grants]:
        if admin not in ids:
            ids.append(admin)
    return ids


def may_approve(session: Session, settings: Settings, approver_user_id: int,
                employee: Employee) -> bool:
    return approver_user_id in approvers_for(session, settings, employee)
