"""Whom an announcement may go to: the sender's choices (their unit, the Kanwil, every unit
they may reach), the groups of those units and how many people they reach."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.org.access import Actor, announce_home_unit, announce_reach
from bot.org.models import Employee, Regu, Unit

SCOPES = ("unit", "kanwil", "all")


@dataclass(frozen=True)
class TargetOption:
    scope: str  # unit | kanwil | all
    label: str  # the unit's name, the Kanwil's name, or "" for all reachable units
    unit_ids: tuple[int, ...]


@dataclass(frozen=True)
class Reach:
    units: int
    groups: int
    people: int


def target_options(session: Session, actor: Actor) -> list[TargetOption]:
    """What this sender may choose: this unit, the Kanwil's units, every unit they may reach —
    only the choices that differ. Empty: this person may not announce."""
    reach = announce_reach(session, actor)
    if not reach:
        return []
    options: list[TargetOption] = []
    home = announce_home_unit(actor, reach)
    if home is not None:
        options.append(TargetOption("unit", home.name, (home.id,)))
        kanwil = tuple(u.id for u in reach if u.kanwil == home.kanwil)
        if len(kanwil) > 1:
            options.append(TargetOption("kanwil", home.kanwil, kanwil))
    every = tuple(u.id for u in reach)
    if not options or len(every) > len(options[-1].unit_ids):
        options.append(TargetOption("all", "", every))
    return options


def target_for(session: Session, actor: Actor, scope: str) -> TargetOption | None:
    return next((o for o in target_options(session, actor) if o.scope == scope), None)




def groups_of(session: Session, unit_ids: Iterable[int]) -> list[tuple[int, int | None, int]]:
    """(unit id, regu id or None for administration, chat id) of every active group."""
    ids = list(unit_ids)
    out: list[tuple[int, int | None, int]] = []
    seen: set[int] = set()
    for unit_id, regu_id, chat_id in session.exec(
            select(Regu.unit_id, Regu.id, Regu.chat_id)
            .where(col(Regu.unit_id).in_(ids), Regu.active)
            .order_by(col(Regu.unit_id), col(Regu.id))):
        if chat_id not in seen:
            seen.add(chat_id)
            out.append((unit_id, regu_id, chat_id))
    for unit_id, chat_id in session.exec(
            select(Unit.id, Unit.admin_group_chat_id)
            .where(col(Unit.id).in_(ids), col(Unit.admin_group_chat_id).is_not(None))
            .order_by(col(Unit.id))):
        if chat_id not in seen:
            seen.add(chat_id)
            out.append((unit_id, None, chat_id))
    return out


def reach_of(session: Session, unit_ids: Iterable[int]) -> Reach:
    ids = list(unit_ids)
    people = session.exec(select(func.count()).select_from(Employee).where(
        col(Employee.unit_id).in_(ids), Employee.active)).one()
    return Reach(units=len(ids), groups=len(groups_of(session, ids)), people=people)
