"""Who may do what. Roles come from the roster (jabatan) and from grants, never display names."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlmodel import Session, col, select

from bot.org.models import Employee, RoleGrant, Unit
from bot.platform.config import Settings


@dataclass(frozen=True)
class Grant:
    role: str  # admin | kanwil | satgas
    unit_id: int | None
    kanwil: str | None


# Menu and help roles beyond the roster's and the grants' (bot/org/menus.py).
EMPLOYEE = "pegawai"  # any registered, active employee
GUEST = "tamu"  # nobody the bot knows yet: may register (/daftar)


def menu_roles(roster_role: str | None, grants: Iterable[str], *, is_admin: bool,
               heads_unit: bool) -> frozenset[str]:
    """The roles whose commands a person sees: their jabatan and "pegawai" when on the roster,
    their grants, "admin", "kalapas" for a unit's configured Kalapas chat; "tamu" if none."""
    roles = set(grants)
    if roster_role:
        roles |= {roster_role, EMPLOYEE}
    if is_admin:
        roles.add("admin")
    if heads_unit:
        roles.add("kalapas")
    return frozenset(roles or {GUEST})


@dataclass(frozen=True)
class Actor:
    telegram_user_id: int
    employee: Employee | None
    grant_rows: tuple[Grant, ...] = ()
    is_admin: bool = False
    heads: frozenset[int] = frozenset()  # units whose configured Kalapas chat this is

    @property
    def grants(self) -> frozenset[str]:
        return frozenset(g.role for g in self.grant_rows)

    @property
    def role(self) -> str | None:  # the roster's jabatan
        return self.employee.role if self.employee else None

    @property
    def roles(self) -> frozenset[str]:
        """Menu roles (menu_roles): the same as the person's command menu."""
        return menu_roles(self.role, self.grants, is_admin=self.is_admin,
                          heads_unit=bool(self.heads))

    @property
    def known(self) -> bool:
        """On the roster, granted a role, an admin, or a unit's Kalapas chat."""
        return GUEST not in self.roles


def actor_for(session: Session, settings: Settings, telegram_user_id: int) -> Actor:
    employee = session.exec(select(Employee).where(
        Employee.telegram_user_id == telegram_user_id, Employee.active)).first()
    rows = session.exec(select(RoleGrant).where(
        RoleGrant.telegram_user_id == telegram_user_id,
        RoleGrant.revoked_at.is_(None))).all()  # type: ignore[union-attr]
    grants = tuple(Grant(r.role, r.unit_id, r.kanwil) for r in rows)
    is_admin = telegram_user_id in settings.telegram.admin_user_ids or any(
        g.role == "admin" for g in grants)
    return Actor(telegram_user_id, employee, grants, is_admin,
                 frozenset(units_with_kalapas_chat(session, [telegram_user_id])))


def visible_units(session: Session, actor: Actor) -> list[Unit]:
    """The one rule for the active units whose records this person may see, by name: an admin
    all; a Kanwil officer, and a Satgas member granted per Kanwil, that Kanwil's units; a Satgas
    member granted per unit that unit; a Kalapas (on the roster, or the unit's configured
    Kalapas chat: kalapas_units) their unit. Empty means: not allowed."""
    units = session.exec(select(Unit).where(Unit.active).order_by(Unit.name)).all()
    if actor.is_admin:
        return list(units)
    kanwils = {g.kanwil for g in actor.grant_rows if g.kanwil and (
        g.role == "kanwil" or (g.role == "satgas" and g.unit_id is None))}
    unit_ids = {g.unit_id for g in actor.grant_rows
                if g.role == "satgas" and g.unit_id is not None}
    unit_ids |= kalapas_units(actor)
    return [u for u in units if u.id in unit_ids or u.kanwil in kanwils]


# --- approvers: who confirms a registration, who decides a person's own leave -----------------

# The superior rule, by the person's roster role: a guard (or staff) answers to their regu's
# Karupam or the KPLP, a Karupam to the KPLP, the KPLP to the Kalapas. Nearest first.
SUPERIOR_ROLES: dict[str, tuple[str, ...]] = {
    "karupam": ("kplp",), "kplp": ("kalapas",), "kalapas": ()}
GUARD_SUPERIORS = ("karupam", "kplp")  # anggota, staf


def superior_roles(employee: Employee) -> tuple[str, ...]:
    return SUPERIOR_ROLES.get(employee.role, GUARD_SUPERIORS)


def _karupam_of(officer: Employee, employee: Employee) -> bool:
    return officer.role == "karupam" and employee.regu_id is not None \
        and officer.regu_id == employee.regu_id


def is_superior(officer: Employee, employee: Employee) -> bool:
    """`officer` is `employee`'s superior on the roster of the same unit (never themselves)."""
    if officer.id == employee.id or officer.unit_id != employee.unit_id:
        return False
    if officer.role not in superior_roles(employee):
        return False
    return officer.role != "karupam" or _karupam_of(officer, employee)


def _admin_ids(session: Session, settings: Settings) -> list[int]:
    grants = session.exec(select(RoleGrant.telegram_user_id).where(
        RoleGrant.role == "admin", col(RoleGrant.revoked_at).is_(None))).all()
    return list(dict.fromkeys([*settings.telegram.admin_user_ids, *grants]))


def approvers_for(session: Session, settings: Settings, employee: Employee) -> list[int]:
    """Telegram ids who may confirm this person's registration: the KPLP, the Karupam of the
    person's regu, admins."""
    officers = session.exec(select(Employee).where(
        Employee.unit_id == employee.unit_id, Employee.active,
        col(Employee.telegram_user_id).is_not(None))).all()
    ids = [o.telegram_user_id for o in officers
           if o.role == "kplp" or _karupam_of(o, employee)]
    return ids + [i for i in _admin_ids(session, settings) if i not in ids]


def may_approve(session: Session, settings: Settings, approver_user_id: int,
                employee: Employee) -> bool:
    return approver_user_id in approvers_for(session, settings, employee)


def leave_deciders(session: Session, settings: Settings,
                   employee: Employee) -> list[Employee | int]:
    """Who is asked to decide this person's own leave: the nearest superiors the bot can write
    to (SUPERIOR_ROLES); for the KPLP without a Kalapas on the roster, the unit's Kalapas chat;
    without any, the admins (Telegram ids). Never the person."""
    roles = superior_roles(employee)
    officers = [o for o in session.exec(select(Employee).where(
        Employee.unit_id == employee.unit_id, Employee.active, Employee.private_chat_ok,
        col(Employee.role).in_(roles), col(Employee.telegram_user_id).is_not(None)))
        if is_superior(o, employee)]
    for role in roles:
        nearest = [o for o in officers if o.role == role]
        if nearest:
            return nearest
    unit = session.get(Unit, employee.unit_id)
    if "kalapas" in roles and unit is not None and unit.kalapas_chat_id \
            and unit.kalapas_chat_id != employee.telegram_user_id:
        return [unit.kalapas_chat_id]
    return [i for i in _admin_ids(session, settings) if i != employee.telegram_user_id]


def may_decide_leave(session: Session, actor: Actor, employee: Employee) -> bool:
    """An admin, or a superior of the person (SUPERIOR_ROLES); never for one's own leave.
    The Kalapas counts as on the roster or as the unit's Kalapas chat (kalapas_units)."""
    if actor.employee is not None and actor.employee.id == employee.id:
        return False
    if actor.is_admin:
        return True
    if actor.employee is not None and actor.employee.role != "kalapas" \
            and is_superior(actor.employee, employee):
        return True
    return "kalapas" in superior_roles(employee) \
        and employee.unit_id in kalapas_units(actor)


# --- announcements (Satgas Netralitas) ---------------------------------------------------------

ANNOUNCERS = frozenset({"satgas"})


def announce_reach(session: Session, actor: Actor) -> list[Unit]:
    """The units this person may send announcements to: an admin all; a Satgas member the unit
    of the grant (unit_id) or the Kanwil's units (a grant with kanwil). Empty: may not announce."""
    units = session.exec(select(Unit).where(Unit.active).order_by(Unit.name)).all()
    if actor.is_admin:
        return list(units)
    grants = [g for g in actor.grant_rows if g.role in ANNOUNCERS]
    unit_ids = {g.unit_id for g in grants if g.unit_id is not None}
    kanwils = {g.kanwil for g in grants if g.unit_id is None and g.kanwil}
    return [u for u in units if u.id in unit_ids or u.kanwil in kanwils]


def announce_home_unit(actor: Actor, reach: list[Unit]) -> Unit | None:
    """'This unit' for an announcer: their own unit if they may reach it, else their grant's."""
    by_id = {u.id: u for u in reach}
    if actor.employee is not None and actor.employee.unit_id in by_id:
        return by_id[actor.employee.unit_id]
    for grant in actor.grant_rows:
        if grant.role in ANNOUNCERS and grant.unit_id in by_id:
            return by_id[grant.unit_id]
    return None


def units_with_kalapas_chat(session: Session, chat_ids: Iterable[int]) -> dict[int, int]:
    """Unit id -> its configured Kalapas chat, for the units whose chat is one of these."""
    return dict(session.exec(select(Unit.id, Unit.kalapas_chat_id).where(
        col(Unit.kalapas_chat_id).in_(list(chat_ids)))).all())


def kalapas_units(actor: Actor) -> set[int]:
    """Units this person heads: Kalapas on the roster, or the configured Kalapas chat."""
    ids = set(actor.heads)
    if actor.employee is not None and actor.employee.role == "kalapas":
        ids.add(actor.employee.unit_id)
    return ids
