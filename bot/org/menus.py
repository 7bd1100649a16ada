"""Per-role command menus: each registered person's private chat gets the commands of their
roles (BotCommandScopeChat); everyone else sees the default menu.

Handler modules declare who sees a command in their MENU (bot/telegram/app.py collects them):
`("cmd", "menu_template")` is for everyone, `("cmd", "menu_template", ("kplp", "admin"))` for
those roles only. Roles are access.menu_roles: the roster's (anggota, karupam, kplp, kalapas,
staf), the grants' (admin, kanwil, satgas), "pegawai" for any registered employee, "kalapas"
for a unit's configured Kalapas chat, and "tamu" for nobody the bot knows (the default menu).
The first entry of a command that matches wins, so a module may list a command twice with
different descriptions. /bantuan is built from the same table (help_context): one line per
command of the menu, from messages/help_command.html.j2 by the entry's menu template.

Menus are set through the outbox (setMyCommands / deleteMyCommands) and remembered in
MenuState, so a role change (registration approved, roster import, grant) is picked up by the
next sync without resending unchanged menus.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_
from sqlmodel import Session, col, select

from bot.delivery import outbox
from bot.delivery.models import OutboxMessage
from bot.org.access import GUEST, Actor, menu_roles
from bot.org.models import Employee, MenuState, RoleGrant, Unit
from bot.platform.config import STANDS_NONE, Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MenuCommand:
    command: str
    description: str
    roles: frozenset[str] | None = None  # None: everyone
    key: str = ""  # the menu template: which line of messages/help_command.html.j2 explains it

    def visible_to(self, roles: frozenset[str]) -> bool:
        return self.roles is None or bool(self.roles & roles)


def entries_for(table: Iterable[MenuCommand], roles: frozenset[str]) -> list[MenuCommand]:
    """The entries these roles see, one per command (the first that matches)."""
    out: dict[str, MenuCommand] = {}
    for entry in table:
        if entry.command not in out and entry.visible_to(roles):
            out[entry.command] = entry
    return list(out.values())


def commands_for(table: Iterable[MenuCommand], roles: frozenset[str] | None) -> list[dict]:
    """The menu for these roles (None: the default menu, for people the bot does not know)."""
    return [{"command": e.command, "description": e.description}
            for e in entries_for(table, frozenset({GUEST}) if roles is None else roles)]


def default_commands(table: Iterable[MenuCommand]) -> list[dict]:
    return commands_for(table, None)


def help_context(session: Session, settings: Settings, table: Iterable[MenuCommand],
                 actor: Actor) -> dict:
    """What /bantuan and /start tell this person (messages/help.html.j2): the commands of
    their menu, the units they head by the configured Kalapas chat, whether they stand apel."""
    roles = actor.roles
    headed = [u.name for u in session.exec(select(Unit).where(
        col(Unit.id).in_(list(actor.heads))).order_by(col(Unit.name)))] if actor.heads else []
    if actor.employee is not None:
        stands = settings.attendance.of(actor.employee.role) != STANDS_NONE
    else:
        stands = not actor.known  # a guest, once registered
    return {"actor": actor, "roles": roles, "commands": entries_for(table, roles),
            "headed": headed, "stands": stands}


def _signature(commands: list[dict]) -> str:
    return hashlib.sha256(json.dumps(commands, sort_keys=True).encode()).hexdigest()[:64]


def _kalapas_chats(session: Session) -> set[int]:
    """The units' Kalapas chats: the Kalapas, on the roster or not (a group has no own menu)."""
    return {c for c in session.exec(select(Unit.kalapas_chat_id)).all() if c > 0}


def _candidates(session: Session, settings: Settings, full: bool) -> set[int]:
    """Telegram ids whose menu may need setting: all known people at start-up, afterwards
    only those whose record, grants or registration changed since their last check."""
    with_chat = (select(Employee.telegram_user_id)
                 .where(col(Employee.telegram_user_id).is_not(None), Employee.private_chat_ok))
    grants = select(RoleGrant.telegram_user_id)
    states = select(MenuState.telegram_user_id)
    kalapas = _kalapas_chats(session)
    if full:
        ids = set(session.exec(with_chat).all()) | set(session.exec(grants).all())
        ids |= set(session.exec(states).all()) | set(settings.telegram.admin_user_ids)
        return {i for i in ids | kalapas if i}
    ids = set(session.exec(
        with_chat.outerjoin(MenuState, col(MenuState.telegram_user_id)
                            == Employee.telegram_user_id)
        .where(or_(col(MenuState.telegram_user_id).is_(None),
                   col(Employee.updated_at) >= MenuState.checked_at))).all())
    ids |= set(session.exec(
        grants.outerjoin(MenuState, col(MenuState.telegram_user_id)
                         == RoleGrant.telegram_user_id)
        .where(or_(col(MenuState.telegram_user_id).is_(None),
                   col(RoleGrant.granted_at) >= MenuState.checked_at,
                   col(RoleGrant.revoked_at) >= MenuState.checked_at))).all())
    known = set(session.exec(states).all())
    ids |= {a for a in {*settings.telegram.admin_user_ids, *kalapas} if a not in known}
    # Someone who had a menu but is no longer linked or active: take their menu away.
    linked = set(session.exec(select(Employee.telegram_user_id).where(
        col(Employee.telegram_user_id).in_(known), Employee.active,
        Employee.private_chat_ok)).all()) if known else set()
    granted = set(session.exec(select(RoleGrant.telegram_user_id).where(
        col(RoleGrant.telegram_user_id).in_(known),
        col(RoleGrant.revoked_at).is_(None))).all()) if known else set()
    ids |= known - linked - granted - set(settings.telegram.admin_user_ids) - kalapas
    return ids


def _roles(session: Session, settings: Settings, user_ids: list[int]
           ) -> dict[int, tuple[frozenset[str], bool]]:
    """(menu roles, reachable) per Telegram id, in bulk: the same rules as access.actor_for
    and access.menu_roles (active employee's jabatan and "pegawai", grants not revoked, admins
    from config or grant, a unit's Kalapas chat). An employee who never opened the chat is not
    reachable."""
    employees: dict[int, tuple[str, bool]] = {}
    grants: dict[int, set[str]] = defaultdict(set)
    for i in range(0, len(user_ids), 500):
        chunk = user_ids[i:i + 500]
        for tg, role, ok in session.exec(select(
                Employee.telegram_user_id, Employee.role, Employee.private_chat_ok).where(
                col(Employee.telegram_user_id).in_(chunk), Employee.active)):
            employees.setdefault(tg, (role, ok))
        for tg, role in session.exec(select(RoleGrant.telegram_user_id, RoleGrant.role).where(
                col(RoleGrant.telegram_user_id).in_(chunk), col(RoleGrant.revoked_at).is_(None))):
            grants[tg].add(role)
    admins = set(settings.telegram.admin_user_ids)
    heads = _kalapas_chats(session)
    out = {}
    for uid in user_ids:
        role, reachable = employees.get(uid, (None, True))
        out[uid] = (menu_roles(role, grants.get(uid, ()), is_admin=uid in admins
                               or "admin" in grants.get(uid, ()), heads_unit=uid in heads),
                    reachable)
    return out


def _queue(session: Session, key: str, user_id: int, method: str, payload: dict,
           now: datetime) -> OutboxMessage:
    """An outbox row like outbox.enqueue writes, without its per-row lookup: the key holds
    this sync's time, so it is new; rows are flushed once for the whole sync."""
    row = OutboxMessage(key=key, chat_id=user_id, method=method, payload=payload,
                        priority=outbox.PRIORITY_TALLY, next_attempt_at=now, created_at=now)
    session.add(row)
    return row


def pending(session: Session, settings: Settings) -> bool:
    """Whether anyone's menu may need setting (a role, grant or registration changed)."""
    return bool(_candidates(session, settings, full=False))


def sync(session: Session, settings: Settings, table: list[MenuCommand], now: datetime, *,
         full: bool = False) -> int:
    """Queue setMyCommands for every person whose menu changed; returns how many were queued.

    A few indexed queries for everyone at once, then one row per changed menu."""
    user_ids = sorted(_candidates(session, settings, full))
    if not user_ids:
        return 0
    roles_of = _roles(session, settings, user_ids)
    states: dict[int, MenuState] = {}
    for i in range(0, len(user_ids), 500):
        states.update({m.telegram_user_id: m for m in session.exec(select(MenuState).where(
            col(MenuState.telegram_user_id).in_(user_ids[i:i + 500])))})
    stamp = f"{now:%Y%m%d%H%M%S%f}"
    queued = 0
    for user_id in user_ids:
        roles, reachable = roles_of[user_id]
        commands = commands_for(table, roles) if GUEST not in roles and reachable else []
        state = states.get(user_id)
        scope = {"type": "chat", "chat_id": user_id}
        if not commands:
            if state is not None:
                _queue(session, f"menu:{user_id}:{stamp}:del", user_id, "deleteMyCommands",
                       {"scope": scope}, now)
                session.delete(state)
                queued += 1
            continue
        signature = _signature(commands)
        if state is None:
            state = MenuState(telegram_user_id=user_id, signature="", version=0, checked_at=now)
        if state.signature != signature:
            state.version += 1
            state.signature = signature
            _queue(session, f"menu:{user_id}:{stamp}:{signature[:8]}", user_id,
                   "setMyCommands", {"commands": commands, "scope": scope}, now)
            queued += 1
        state.checked_at = now
        session.add(state)
    session.flush()
    if queued:
        log.info("command menus queued for %d people", queued)
    return queued
