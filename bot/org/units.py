"""Bring the units, regu and pledge period of config.toml into the database."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from bot.delivery import outbox
from bot.delivery.models import GROUP_POSTS, ChatMigration
from bot.org.models import PledgePeriod, Regu, Unit
from bot.platform.config import TIMEZONES, PeriodConfig, Settings, UnitConfig
from bot.platform.config_loading import period_gap, period_warning
from bot.platform.db import insert_ignoring_duplicates
from bot.platform.texts import render

log = logging.getLogger(__name__)


class ChatIds:
    """Chat ids as config gives them, read through the supergroup upgrades Telegram made."""

    def __init__(self, session: Session) -> None:
        self._moved = outbox.chat_moves(session)

    def current(self, chat_id: int | None, key: str) -> int | None:
        configured = chat_id
        if chat_id is not None:
            chat_id = outbox.follow(self._moved, chat_id)
        if chat_id != configured:
            log.warning("%s: chat %d became supergroup %d; using the new id (put it in "
                        "config.toml)", key, configured, chat_id)
        return chat_id


# A regu that gave up its group to another regu keeps a parked id: negative, unique, and far
# outside Telegram's range (52 bits), so no message or press can ever match it.
PARKED_CHAT_BASE = -(2**62)

ReguKey = tuple[str, str]  # (unit code, regu name)


def _configured_regu_chats(settings: Settings, chats: ChatIds) -> dict[ReguKey, int]:
    return {(u.code, r.name): chats.current(r.chat_id, f"units[{u.code}].regu[{r.name}].chat_id")
            for u in settings.units for r in u.regu}


def _release_chats(regus: list[Regu], code_of: dict[int, str],
                   wanted: dict[ReguKey, int]) -> None:
    """Park every regu holding a group that config gives to another regu (a unit renamed,
    chats swapped): the unique chat_id then lets each new holder take its group."""
    owner = {chat: key for key, chat in wanted.items()}
    for regu in regus:
        code = code_of[regu.unit_id]
        if owner.get(regu.chat_id, (code, regu.name)) != (code, regu.name):
            log.info("regu %s of unit %s gives chat %d up to regu %s of unit %s", regu.name,
                     code, regu.chat_id, owner[regu.chat_id][1], owner[regu.chat_id][0])
            regu.chat_id, regu.active = PARKED_CHAT_BASE - regu.id, False


def _sync_unit(unit: Unit | None, cfg: UnitConfig, chats: ChatIds, now: datetime) -> Unit:
    key = f"units[{cfg.code}]"
    if unit is None:
        unit = Unit(code=cfg.code, created_at=now, kalapas_chat_id=cfg.kalapas_chat_id)
        log.info("unit %s added", cfg.code)
    unit.name, unit.kind, unit.kanwil, unit.timezone = cfg.name, cfg.kind, cfg.kanwil, cfg.timezone
    unit.kalapas_chat_id = chats.current(cfg.kalapas_chat_id, f"{key}.kalapas_chat_id")
    unit.admin_group_chat_id = chats.current(cfg.admin_group_chat_id,
                                             f"{key}.admin_group_chat_id")
    unit.active = True
    return unit


def _sync_regu(session: Session, settings: Settings, units: dict[str, Unit],
               regus: list[Regu], regu_chats: dict[ReguKey, int]) -> None:
    existing = {(r.unit_id, r.name): r for r in regus}
    for cfg in settings.units:
        unit_id = units[cfg.code].id
        for rc in cfg.regu:
            regu = existing.pop((unit_id, rc.name), None)
            if regu is None:
                regu = Regu(unit_id=unit_id, name=rc.name, chat_id=0)
                session.add(regu)
            regu.chat_id = regu_chats[(cfg.code, rc.name)]
            regu.active = True
    configured = {units[cfg.code].id for cfg in settings.units}
    for (unit_id, _), gone in existing.items():
        # Regu dropped from config: keep the row (history points at it), stop using it.
        if unit_id in configured:
            gone.active = False


def _sync_period(session: Session, cfg: PeriodConfig) -> PledgePeriod:
    period = session.exec(select(PledgePeriod).where(PledgePeriod.name == cfg.name)).first()
    if period is None:
        period = PledgePeriod(name=cfg.name, start=cfg.start, end=cfg.end, pledge_points=[],
                              topics=[])
    period.start, period.end = cfg.start, cfg.end
    period.pledge_points, period.topics = list(cfg.pledge_points), list(cfg.topics)
    session.add(period)
    session.flush()
    return period


def sync_config(session: Session, settings: Settings, now: datetime) -> None:
    """Idempotent: running it twice changes nothing. Units missing from config go inactive.

    Set-based (one read of the units, one of the regu, one flush each): a national config
    holds thousands of groups, and this runs before the bot reads its first update."""
    chats = ChatIds(session)
    regu_chats = _configured_regu_chats(settings, chats)
    units = {u.code: u for u in session.exec(select(Unit))}
    regus = list(session.exec(select(Regu)))
    _release_chats(regus, {u.id: code for code, u in units.items()}, regu_chats)
    session.flush()  # parked first: the unique chat_id lets each new holder take its group
    configured = {cfg.code for cfg in settings.units}
    for code, unit in units.items():
        if code not in configured:
            unit.active = False
    for cfg in settings.units:
        units[cfg.code] = _sync_unit(units.get(cfg.code), cfg, chats, now)
        session.add(units[cfg.code])
    session.flush()  # ids for units just added
    _sync_regu(session, settings, units, regus, regu_chats)
    session.flush()
    _sync_period(session, settings.period)


def warn_period(session: Session, settings: Settings, now: datetime) -> str | None:
    """At start-up: log when [period] does not cover today, and tell the operator chat (once
    a day, however often the bot restarts). Returns the log line, or None."""
    line = period_warning(settings, now)
    if line is None:
        return None
    log.warning(line)
    chat = settings.telegram.operator_chat_id
    if chat is not None:
        gap, period = period_gap(settings, now), settings.period
        text = render("operator_period", name=period.name, start=period.start, end=period.end,
                      days=[(day, TIMEZONES[zone]) for zone, day in gap.items()])
        outbox.send_message(session, key=f"period-warning:{period.name}:{min(gap.values())}",
                            chat_id=chat, text=text, now=now, priority=outbox.PRIORITY_REPORT)
    return line


def period_row(session: Session, settings: Settings) -> PledgePeriod:
    row = session.exec(select(PledgePeriod).where(PledgePeriod.name == settings.period.name)).one()
    return row


def move_chat(session: Session, old_chat_id: int, new_chat_id: int, now: datetime) -> None:
    """A group was upgraded to a supergroup: its regu (or unit chat) follows the new id, now
    and after every restart (ChatIds), even while config.toml still holds the old one."""
    # Two messages in flight to the group may both learn of the move at once.
    session.execute(insert_ignoring_duplicates(session, ChatMigration.__table__, ["old_chat_id"])
                    .values(old_chat_id=old_chat_id, new_chat_id=new_chat_id, migrated_at=now))
    for regu in session.exec(select(Regu).where(Regu.chat_id == old_chat_id)):
        regu.chat_id = new_chat_id
        session.add(regu)
        log.warning("regu %s moved to chat %d; update chat_id in config.toml to match",
                    regu.name, new_chat_id)
    # Posts already made follow too (briefings, announcements: each table marked @group_post):
    # a press in the supergroup is checked against them, and their tally edits go to the new id.
    for table in GROUP_POSTS:
        session.execute(update(table).where(col(table.chat_id) == old_chat_id)
                        .values(chat_id=new_chat_id))
    for unit in session.exec(select(Unit)):
        if unit.admin_group_chat_id == old_chat_id:
            unit.admin_group_chat_id = new_chat_id
        if unit.kalapas_chat_id == old_chat_id:
            unit.kalapas_chat_id = new_chat_id
        session.add(unit)
