"""Who asks for a report, and the units they may see.

Decided from the database (bot/org/access.py) on every command and on every button press:
button data only says what was asked, never who may ask it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlmodel import Session

from bot.org.access import Actor, actor_for, visible_units
from bot.org.models import Unit
from bot.platform.config import Settings

log = logging.getLogger(__name__)


@dataclass
class Scope:
    actor: Actor
    units: list[Unit]

    @property
    def allowed(self) -> bool:
        return bool(self.units)

    def unit(self, unit_id: int | None) -> Unit | None:
        return next((u for u in self.units if u.id == unit_id), None)

    @property
    def kanwils(self) -> list[str]:
        return sorted({u.kanwil for u in self.units})


def scope_for(session: Session, settings: Settings, telegram_user_id: int) -> Scope:
    """Who asks and the units they may see: access.visible_units, the one rule."""
    actor = actor_for(session, settings, telegram_user_id)
    return Scope(actor, visible_units(session, actor))


def log_refusal(what: str, telegram_user_id: int | None, scope: Scope | None,
                detail: str = "") -> None:
    roles = sorted(scope.actor.roles) if scope else []
    log.warning("report request refused: %s by tg:%s (roles %s) %s", what, telegram_user_id,
                roles or "none", detail)
