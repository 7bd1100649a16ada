"""When things happen: derive what is due from config + database, never from remembered jobs.

APScheduler only rings the bell (at each unit's local apel and deadline minute, and every
RECONCILE_SECONDS as a safety net); `reconcile()` decides what to do by comparing the calendar
with the Apel rows, so a restart, a missed job or a second process cannot open an apel twice.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlmodel import Session, col, select

from bot.announcements import periodic as announcement_upkeep
from bot.apel import closing, opening, tally
from bot.apel import counts as apel_counts
from bot.apel.models import Apel
from bot.audit import checkpoint_delivery as checkpoints
from bot.audit.keys import SigningKey, load_signing_key
from bot.calendar.duty import ApelPlan, plans_due
from bot.delivery import inbox
from bot.org import menus
from bot.org.models import Unit
from bot.platform import metrics
from bot.platform.clock import Clock
from bot.platform.config import SLOTS, Settings, UnitConfig
from bot.platform.db import Database
from bot.reports import digest
from bot.unit_admin import pakta

log = logging.getLogger(__name__)

RECONCILE_SECONDS = 30
TALLY_SECONDS = 2
HOUSEKEEPING_SECONDS = 60  # pakta reminders (idempotent per day), menus after role changes
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
                 on_error: Callable[[str, BaseException], None] | None = None,
                 menu_table: list[menus.MenuCommand] | None = None,
                 may_run: Callable[[], bool] = lambda: True) -> None:
        self.db, self.settings, self.clock = db, settings, clock
        # The leader's fence: a process that lost the lead (it froze, another took over, and it
        # has woken but not yet stopped) rings no bell.
        self.may_run = may_run
        self.on_queued = on_queued
        self.on_error = on_error
        self.menu_table = menu_table or []  # who sees which command (bot/telegram/app.py)
        self._reminded: set[tuple[int, date]] = set()  # (unit, local day) pakta rounds done
        self._scheduler: AsyncIOScheduler | None = None
        self._key: SigningKey | None = None
        self._reconcile_lock = threading.Lock()
        self._again = False
        self.last_tick_at: datetime | None = None  # the last reconcile pass (for /healthz)

    # --- the decisions -------------------------------------------------------------------------

    def reconcile(self) -> ReconcileSummary:
        """Open what is due, record what was slept through, close what passed its deadline.

        Single-flight: bells ringing together (hundreds of units share 07:00 WIB) run one pass;
        a bell that rings during a pass makes it run once more instead of in parallel.
        """
        if not self._reconcile_lock.acquire(blocking=False):
            self._again = True
            return ReconcileSummary()
        try:
            total = ReconcileSummary()
            while True:
                self._again = False
                once = self._reconcile_once()
                self.last_tick_at = self.clock.now()
                metrics.APEL_OPENED.inc(once.opened)
                metrics.APEL_CLOSED.inc(once.closed)
                total.opened += once.opened
                total.missed += once.missed
                total.closed += once.closed
                if not self._again:
                    return total
        finally:
            self._reconcile_lock.release()

    def _reconcile_once(self) -> ReconcileSummary:
        summary = ReconcileSummary()
        now = self.clock.now()
        # One cheap read finds the units with work; only those take the write lock.
        known, created = self.db.read(lambda s: _apel_keys_since(s, now - CATCH_UP))
        for unit in self.settings.units:
            plans = [p for p in plans_due(unit, self.settings.calendar, self.settings.period,
                                          now - CATCH_UP, now)
                     if (unit.code, p.duty_date, p.slot) not in known]
            if not plans or unit.code not in created:
                continue
            try:
                opened, missed = self.db.call(
                    lambda s, u=unit, ps=plans: self._catch_up(s, u, ps, created[u.code], now))
                summary.opened += opened
                summary.missed += missed
            except Exception as err:  # one unit's trouble must not stop the others
                self._report(f"opening apel for unit {unit.code}", err)
        closed_chats: list[int] = []
        try:
            if self.db.read(lambda s: closing.apels_past_deadline(s, now)):
                closed_chats = self.db.call(lambda s: self._close_due(s, now))
                summary.closed = len(closed_chats)
        except Exception as err:
            self._report("closing apel", err)
        self._checkpoint(now, closed_chats)
        if summary.changed:
            self.on_queued()
        return summary

    def _catch_up(self, session: Session, unit: UnitConfig, plans: list[ApelPlan],
                  unit_created: datetime, now: datetime) -> tuple[int, int]:
        opened = missed = 0
        for plan in plans:
            if now < plan.deadline_at:
                opened += opening.open_apel(session, self.settings, plan, now) is not None
            elif plan.scheduled_at >= unit_created:  # not "missed" before the unit was set up
                missed += opening.record_missed(session, self.settings, plan, now) is not None
        return opened, missed

    def _close_due(self, session: Session, now: datetime) -> list[int]:
        """Close what passed its deadline; the Kalapas chats that got a report."""
        return [closing.close_apel(session, apel, now).unit.kalapas_chat_id
                for apel in closing.apels_past_deadline(session, now, lock=True)]

    def signing_key(self) -> SigningKey:
        if self._key is None:  # created on first use, owner-only, outside the database
            self._key = load_signing_key(self.settings.audit.key_file, self.settings.audit.origin)
        return self._key

    def _checkpoint(self, now: datetime, closed_chats: list[int]) -> None:
        """Sign the log and send copies outside it: to the archive chat after each apel closes,
        and daily (to the archive chat, or else to every Kalapas; and to the operator)."""
        archive = self.settings.audit.archive_chat_id
        try:
            if closed_chats and archive is not None:
                self.db.call(lambda s: checkpoints.publish(
                    s, self.signing_key(), now, [archive], daily=False))
            elif self.db.read(lambda s: checkpoints.daily_due(s, now)):
                chats = [archive] if archive is not None else [
                    u.kalapas_chat_id for u in self.db.read(
                        lambda s: s.exec(select(Unit).where(Unit.active)).all())]
                if self.settings.telegram.operator_chat_id:
                    chats.append(self.settings.telegram.operator_chat_id)
                self.db.call(lambda s: checkpoints.publish(
                    s, self.signing_key(), now, chats, daily=True))
        except Exception as err:
            self._report("signing an audit checkpoint", err)

    def refresh_tallies(self) -> int:
        try:
            queued = self.db.call(lambda s: tally.refresh_tallies(
                s, self.clock.now(), self.settings.telegram.tally_edit_seconds))
        except Exception as err:
            self._report("refreshing tallies", err)
            return 0
        if queued:
            self.on_queued()
        return queued

    def refresh_announcements(self) -> int:
        """Announcement tallies and the one-time reminders (bot/announcements/periodic.py)."""
        try:
            queued = self.db.call(lambda s: announcement_upkeep.refresh(
                s, self.settings, self.clock.now()))
        except Exception as err:
            self._report("refreshing announcements", err)
            return 0
        if queued:
            self.on_queued()
        return queued

    def housekeeping(self, *, full_menus: bool = False) -> int:
        """Pakta reminders that are due, menus of people whose role changed, stale apel counts,
        weekly digests."""
        now = self.clock.now()
        queued = 0
        try:
            due = self.db.read(lambda s: pakta.units_due(s, self.settings, now))
            for unit_id, day in due:
                if (unit_id, day) in self._reminded:
                    continue
                # One transaction per unit; after a restart the outbox keys keep it once a day.
                queued += self.db.call(lambda s, u=unit_id: pakta.send_reminders(
                    s, self.settings, now, unit_id=u))
                self._reminded.add((unit_id, day))
        except Exception as err:
            self._report("sending pakta reminders", err)
        queued += self.sync_menus(full=full_menus, notify=False)
        self.count_stale_apel()
        try:
            self.db.call(lambda s: inbox.prune(s, now))
        except Exception as err:
            self._report("forgetting handled updates", err)
        queued += self.send_digests(now)
        if queued:
            self.on_queued()
        return queued

    def send_digests(self, now: datetime) -> int:
        """The weekly digest to each Kalapas, when due (bot/reports/digest.py)."""
        try:
            return digest.send_due(self.db, self.settings, now)
        except Exception as err:
            self._report("sending the weekly digests", err)
            return 0

    def count_stale_apel(self, budget_s: float = 5.0) -> int:
        """Count closed apel whose kept counts are missing or stale (after an upgrade, or a
        late pledge that raced the close), in short transactions so pledges never wait long."""
        counted, until = 0, time.monotonic() + budget_s
        try:
            while time.monotonic() < until and (batch := self.db.call(apel_counts.recount_stale)):
                counted += batch
        except Exception as err:
            self._report("counting closed apel for the reports", err)
        return counted

    def sync_menus(self, *, full: bool = False, notify: bool = True) -> int:
        """Set the command menu of each person whose roles changed (all of them if full)."""
        if not self.menu_table:
            return 0
        try:
            if not full and not self.db.read(lambda s: menus.pending(s, self.settings)):
                return 0  # the usual case: a read, no write lock
            queued = self.db.call(lambda s: menus.sync(
                s, self.settings, self.menu_table, self.clock.now(), full=full))
        except Exception as err:
            self._report("updating command menus", err)
            return 0
        if queued and notify:
            self.on_queued()
        return queued

    def _report(self, what: str, err: BaseException) -> None:
        log.exception("scheduler failed while %s", what, exc_info=err)
        if self.on_error is not None:
            self.on_error(what, err)

    # --- the bell ------------------------------------------------------------------------------

    def start(self) -> None:
        reconcile_job = self._job(self.reconcile)
        tally_job = self._job(self.refresh_tallies)
        housekeeping_job = self._job(self.housekeeping)
        announce_job = self._job(self.refresh_announcements)

        sched = AsyncIOScheduler(timezone="UTC", job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": 3600})
        sched.add_job(reconcile_job, IntervalTrigger(seconds=RECONCILE_SECONDS), id="reconcile")
        sched.add_job(tally_job, IntervalTrigger(seconds=TALLY_SECONDS), id="tally")
        sched.add_job(housekeeping_job, IntervalTrigger(seconds=HOUSEKEEPING_SECONDS),
                      id="housekeeping")
        sched.add_job(announce_job, IntervalTrigger(seconds=TALLY_SECONDS), id="announcements")
        for zone, hour, minute in self._bells():
            sched.add_job(reconcile_job, CronTrigger(hour=hour, minute=minute, second=1,
                                                     timezone=zone),
                          id=f"bell:{zone}:{hour:02d}{minute:02d}")
        sched.start()
        self._scheduler = sched
        log.info("scheduler started: %d jobs", len(sched.get_jobs()))

    def _job(self, work: Callable[[], object]) -> Callable[[], Awaitable[None]]:
        async def job() -> None:
            if self.may_run():
                await asyncio.to_thread(work)

        return job

    def _bells(self) -> list[tuple[str, int, int]]:
        """Each distinct local minute at which some unit's apel opens or closes."""
        bells = set()
        for unit in self.settings.units:
            for slot in SLOTS:
                at = unit.apel_times.of(slot)
                deadline = (datetime.combine(datetime(2000, 1, 1), at)
                            + timedelta(minutes=unit.deadline_minutes)).time()
                bells |= {(unit.timezone, t.hour, t.minute) for t in (at, deadline)}
        return sorted(bells)

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None


def _apel_keys_since(session: Session, since: datetime) -> tuple[set, dict[str, datetime]]:
    """(unit code, date, slot) of every apel row from `since`'s date on, and units' creation."""
    units = {u.id: u for u in session.exec(select(Unit))}
    rows = session.exec(select(Apel.unit_id, Apel.duty_date, Apel.slot).where(
        col(Apel.duty_date) >= (since - timedelta(days=1)).date())).all()
    return ({(units[u].code, d, slot) for u, d, slot in rows},
            {u.code: u.created_at for u in units.values()})
