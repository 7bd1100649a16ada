"""When things happen: derive what is due from config + database, never from remembered jobs.

APScheduler only rings the bell (at each unit's local apel and deadline minute, and every
RECONCILE_SECONDS as a safety net); `reconcile()` decides what to do by comparing the calendar
with the Apel rows, so a restart, a missed job or a second process cannot open an apel twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlmodel import Session, col, select

from bot.audit.keys import SigningKey, load_signing_key
from bot.clock import Clock
from bot.config import SLOTS, Settings, UnitConfig
from bot.db import Database
from bot.duty import plans_due
from bot.models import Apel, Unit
from bot.services import apel as apel_service
from bot.services import checkpoints

log = logging.getLogger(__name__)

RECONCILE_SECONDS = 30
TALLY_SECONDS = 2
CATCH_UP = timedelta(hours=36)  # how far back a restart looks for apel it slept through


@dataclass
class ReconcileSummary:
    opened: int = 0
    missed: int = 0
    closed: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.opened or self.missed or self.closed)


class ApelScheduler:
    def __init__(self, db: Database, settings: Settings, clock: Clock,
                 on_queued: Callable[[], None] = lambda: None,
                 on_error: Callable[[str, BaseException], None] | None = None) -> None:
        self.db, self.settings, self.clock = db, settings, clock
        self.on_queued = on_queued
        self.on_error = on_error
        self._scheduler: AsyncIOScheduler | None = None
        self._key: SigningKey | None = None

    # --- the decisions -------------------------------------------------------------------------

    def reconcile(self) -> ReconcileSummary:
        """Open what is due, record what was slept through, close what passed its deadline."""
        summary = ReconcileSummary()
        now = self.clock.now()
        for unit in self.settings.units:
            try:
                opened, missed = self.db.call(lambda s, u=unit: self._catch_up(s, u, now))
                summary.opened += opened
                summary.missed += missed
            except Exception as err:  # one unit's trouble must not stop the others
                self._report(f"opening apel for unit {unit.code}", err)
        closed_chats: list[int] = []
        try:
            closed_chats = self.db.call(lambda s: self._close_due(s, now))
            summary.closed = len(closed_chats)
        except Exception as err:
            self._report("closing apel", err)
        self._checkpoint(now, closed_chats)
        if summary.changed:
            self.on_queued()
        return summary

    def _catch_up(self, session: Session, unit: UnitConfig, now: datetime) -> tuple[int, int]:
        row = session.exec(select(Unit).where(Unit.code == unit.code)).one()
        plans = list(plans_due(unit, self.settings.calendar, self.settings.period,
                               now - CATCH_UP, now))
        if not plans:
            return 0, 0
        existing = set(session.exec(select(Apel.duty_date, Apel.slot).where(
            Apel.unit_id == row.id, col(Apel.duty_date) >= plans[0].duty_date)).all())
        opened = missed = 0
        for plan in plans:
            if (plan.duty_date, plan.slot) in existing:
                continue
            if now < plan.deadline_at:
                opened += apel_service.open_apel(session, self.settings, plan, now) is not None
            elif plan.scheduled_at >= row.created_at:  # not "missed" before the unit was set up
                missed += apel_service.record_missed(session, self.settings, plan, now) is not None
        return opened, missed

    def _close_due(self, session: Session, now: datetime) -> list[int]:
        """Close what passed its deadline; the Kalapas chats that got a report."""
        return [apel_service.close_apel(session, apel, now).unit.kalapas_chat_id
                for apel in apel_service.apels_past_deadline(session, now)]

    def signing_key(self) -> SigningKey:
        if self._key is None:  # created on first use, owner-only, outside the database
            self._key = load_signing_key(self.settings.audit.key_file, self.settings.audit.origin)
        return self._key

    def _checkpoint(self, now: datetime, closed_chats: list[int]) -> None:
        """After apel close, and at least daily: sign the log and send copies outside it."""
        try:
            if closed_chats:
                self.db.call(lambda s: checkpoints.publish(
                    s, self.signing_key(), now, closed_chats, daily=False))
            elif self.db.call(lambda s: checkpoints.daily_due(s, now)):
                chats = [u.kalapas_chat_id for u in self.db.call(lambda s: s.exec(
                    select(Unit).where(Unit.active)).all())]
                if self.settings.telegram.operator_chat_id:
                    chats.append(self.settings.telegram.operator_chat_id)
                self.db.call(lambda s: checkpoints.publish(
                    s, self.signing_key(), now, chats, daily=True))
        except Exception as err:
            self._report("signing an audit checkpoint", err)

    def refresh_tallies(self) -> int:
        try:
            queued = self.db.call(lambda s: apel_service.refresh_tallies(
                s, self.clock.now(), self.settings.telegram.tally_edit_seconds))
        except Exception as err:
            self._report("refreshing tallies", err)
            return 0
        if queued:
            self.on_queued()
        return queued

    def _report(self, what: str, err: BaseException) -> None:
        log.exception("scheduler failed while %s", what, exc_info=err)
        if self.on_error is not None:
            self.on_error(what, err)

    # --- the bell ------------------------------------------------------------------------------

    def start(self) -> None:
        import asyncio

        async def reconcile_job() -> None:
            await asyncio.to_thread(self.reconcile)

        async def tally_job() -> None:
            await asyncio.to_thread(self.refresh_tallies)

        sched = AsyncIOScheduler(timezone="UTC", job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": 3600})
        sched.add_job(reconcile_job, IntervalTrigger(seconds=RECONCILE_SECONDS), id="reconcile")
        sched.add_job(tally_job, IntervalTrigger(seconds=TALLY_SECONDS), id="tally")
        for unit in self.settings.units:
            for slot in SLOTS:
                at = unit.apel_times.of(slot)
                deadline = (datetime.combine(datetime(2000, 1, 1), at)
                            + timedelta(minutes=unit.deadline_minutes)).time()
                for kind, when in (("open", at), ("close", deadline)):
                    sched.add_job(reconcile_job, CronTrigger(
                        hour=when.hour, minute=when.minute, second=1, timezone=unit.zone),
                        id=f"{unit.code}:{slot}:{kind}")
        sched.start()
        self._scheduler = sched
        log.info("scheduler started: %d jobs", len(sched.get_jobs()))

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
