"""Incoming updates through the inbox: received (long polling, or the webhook), stored, then
handled from the database by PTB's handlers.

Polling: a batch is committed to the inbox before the next getUpdates, whose offset is what
tells Telegram the batch arrived; so a crash at any moment loses no update, and a redelivered
one is stored once. Handling: rows are claimed from the inbox and passed to
`Application.process_update`; the pledge path marks its row handled in the pledge's own
transaction, everything else is marked once its handler returns (its answers are keyed by
the update, so one handled twice after a crash answers once).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session
from telegram import Update
from telegram.error import Conflict, InvalidToken, NetworkError, TelegramError
from telegram.ext import Application

from bot.delivery import inbox
from bot.platform.batching import BatchWriter
from bot.platform.clock import Clock
from bot.platform.db import Database
from bot.platform.presence import Presence
from bot.telegram.ops_server import NotReceiving

log = logging.getLogger(__name__)

@dataclass
class Received:
    """The inbox row of the update being handled: a handler commits the handled mark with its
    effect (the pledge button), and takes the time it arrived as the time it was made."""

    inbox_id: int
    at: datetime
    # Set by a handler that committed the handled mark itself: no second write for it.
    marked: bool = False
    # Set by the error handler when the database connection went mid-handling: nothing of it
    # was kept, so it is handled again (by whichever process claims it) instead of lost.
    again: bool = False


CURRENT: contextvars.ContextVar[Received | None] = contextvars.ContextVar(
    "current_update", default=None)

POLL_TIMEOUT_S = 10
BATCH = 100  # Telegram's own maximum per getUpdates
FENCED_POLL_S = 0.5  # fenced, look again this often (the fence reopens when leading on)
# Updates handled at once. A press holds its place for a group commit and for its answer's
# round trip to Telegram (0.2-0.3 s from Indonesia): 128 places capped presses at 226/s with a
# 250 ms round trip (benchmarks/bench_pledges.py --rtt-ms 250); they wait on the network.
CONCURRENCY = 512
IDLE_S = 0.5
GONE_CHECK_S = 2.0  # how often a process looks for updates held by a process that is gone
AGAIN_AFTER = timedelta(seconds=2)  # a handler's connection went: handle it again this soon
AGAIN_AT_MOST = 3  # ... this many times in this process, then it is given up (logged)


class UpdatePump:
    def __init__(self, app: Application, db: Database, clock: Clock, *,
                 allowed_updates: list[str],
                 prepare: Callable[[dict], dict] = lambda payload: payload,
                 may_poll: Callable[[], bool] = lambda: True) -> None:
        self.app, self.db, self.clock = app, db, clock
        # The leader's fence: a process that no longer surely leads stops calling getUpdates,
        # whose every call would end the new leader's long poll with a 409.
        self._may_poll = may_poll
        self.allowed_updates = allowed_updates
        self._prepare = prepare  # trims what no handler reads before PTB parses it
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        # PostgreSQL: this process's presence, and how it sees others gone (presence.py).
        self.presence = None if db.is_sqlite else Presence(db.url, self.holder)
        self._gone_checked_at = float("-inf")
        self._missing: set[str] = set()  # holders without a presence lock at the last look
        self._handled_again: dict[int, int] = {}  # inbox row -> times its connection went
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._sem = asyncio.Semaphore(CONCURRENCY)
        self._working: set[asyncio.Task] = set()
        self._room = asyncio.Event()  # set when fewer than CONCURRENCY are being handled
        self._tasks: list[asyncio.Task] = []
        self._webhook_writer = BatchWriter(db, self._store_batch)
        # Handled marks share one transaction: one write per press would queue every press
        # behind the others' commits (issue 17: p99 3.5 s for presses over 50 groups).
        self._marks: BatchWriter[tuple[int, datetime], None] = BatchWriter(db, _mark_all)

    def wake(self) -> None:
        self._wake.set()

    def start(self, *, poll: bool) -> None:
        self._tasks.append(asyncio.create_task(self._handle(), name="inbox-handle"))
        if poll:
            self.start_polling()

    def start_polling(self) -> None:
        """The leader's: one getUpdates loop per bot token (Telegram refuses a second)."""
        self._tasks.append(asyncio.create_task(self._poll(), name="inbox-poll"))

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop receiving, finish what is being handled (the rest waits in the inbox)."""
        self._stopping.set()
        self._wake.set()
        await self._webhook_writer.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._working:
            await asyncio.wait(self._working, timeout=timeout)
        await self._marks.close()
        if self.presence is not None:
            await asyncio.to_thread(self.presence.close)

    # --- receiving -------------------------------------------------------------------------------

    async def _poll(self) -> None:
        offset: int | None = None
        delay = 1.0
        while not self._stopping.is_set():
            if not self._may_poll():
                await asyncio.sleep(FENCED_POLL_S)
                continue
            try:
                batch = await self.app.bot.do_api_request(
                    "getUpdates", api_kwargs={"offset": offset, "limit": BATCH,
                                              "timeout": POLL_TIMEOUT_S,
                                              "allowed_updates": self.allowed_updates},
                    read_timeout=POLL_TIMEOUT_S + 10)
            except InvalidToken:
                raise
            except Conflict as err:  # another process polls this token
                log.error("getUpdates refused (%s); is a second bot running on this token?", err)
                await asyncio.sleep(5.0)
                continue
            except (NetworkError, TelegramError) as err:
                log.warning("getUpdates failed (%s); trying again in %.0f s", err, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            if batch:
                try:
                    await self.receive(batch)
                except Exception as err:  # not stored: the same offset asks Telegram again
                    log.warning("storing %d updates failed (%s); asking for them again in "
                                "%.0f s", len(batch), err, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 30.0)
                    continue
                offset = max(u["update_id"] for u in batch) + 1
            delay = 1.0

    async def receive(self, updates: list[dict]) -> None:
        """Commit updates to the inbox (the caller acknowledges them to Telegram only after)."""
        now = self.clock.now()
        rows = await self.db.run(lambda s: inbox.store_claimed(s, updates, now, self.holder))
        self._start(rows)
        if len(rows) < len(updates):  # redelivered: stored before, maybe held by nobody
            self._wake.set()

    async def receive_one(self, update: dict) -> None:
        """A webhook's update, committed (and held for handling here) with the others arriving
        at the same moment: one transaction for many concurrent POSTs. Returns once committed.
        Stopping, it stores nothing more: what it stored now would wait, held by a process that
        will not handle it, until the hold runs out."""
        if self._stopping.is_set():
            raise NotReceiving
        rows = await self._webhook_writer.submit(update)
        self._start(rows)
        self._wake.set()

    def _store_batch(self, session: Session, updates: list[dict]) -> list[list]:
        """The batch's new rows go to its first caller to hand on; the others hand on none."""
        rows = inbox.store_claimed(session, updates, self.clock.now(), self.holder)
        return [rows, *([] for _ in updates[1:])]

    # --- handling --------------------------------------------------------------------------------

    async def _handle(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._take_up_the_gones()
                took = await self._claim_some()
            except Exception:
                log.exception("reading the inbox failed; trying again shortly")
                await asyncio.sleep(1.0)
                continue
            if not took:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=IDLE_S)
                except TimeoutError:
                    pass

    async def announce(self) -> None:
        """PostgreSQL: present before anything is stored or claimed in this process's name
        (else another process could take it for gone and handle its updates too)."""
        if self.presence is not None:
            try:
                await asyncio.to_thread(self.presence.announce)
            except Exception as err:  # the database is away: again at the next look
                log.warning("presence not announced yet (%s)", err)

    async def _take_up_the_gones(self) -> None:
        """Updates held by a process that is gone (killed) are free at once, not after their
        claim runs out. Gone means seen without its presence lock at two looks in a row: one
        whose session was cut takes its lock again at its next look."""
        if self.presence is None or time.monotonic() - self._gone_checked_at < GONE_CHECK_S:
            return
        self._gone_checked_at = time.monotonic()
        await asyncio.to_thread(self.presence.announce)
        now = self.clock.now()
        holders = await self.db.run_read(lambda s: inbox.other_holders(s, self.holder, now))
        missing = await asyncio.to_thread(self.presence.missing, holders)
        gone, self._missing = sorted(missing & self._missing), missing
        if gone:
            freed = await self.db.run(lambda s: inbox.release_held_by(s, gone))
            log.warning("%d updates held by %s, which is gone, are handled here now", freed,
                        ", ".join(gone))

    async def _claim_some(self) -> int:
        free = CONCURRENCY - len(self._working)
        if free <= 0:
            # Not asyncio.wait(self._working): in a burst thousands are held, and waiting on
            # all of them after each one ends costs time squared (issue 17: p50 5 s on PG).
            self._room.clear()
            await self._room.wait()
            return 1
        now = self.clock.now()
        rows = await self.db.run(lambda s: inbox.claim(s, self.holder, now, free))
        self._start(rows)
        return len(rows)

    def _start(self, rows: list[tuple[int, dict, datetime]]) -> None:
        """Handle these held rows, at most CONCURRENCY at once (the rest wait their turn)."""
        for row_id, payload, received_at in rows:
            task = asyncio.create_task(self._handle_one(Received(row_id, received_at), payload))
            self._working.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task) -> None:
        self._working.discard(task)
        if len(self._working) < CONCURRENCY:
            self._room.set()

    async def _handle_one(self, received: Received, payload: dict) -> None:
        async with self._sem:
            token = CURRENT.set(received)
            try:
                update = Update.de_json(self._prepare(payload), self.app.bot)
                await self.app.process_update(update)
            except Exception:
                log.exception("update %s could not be handled", payload.get("update_id"))
            finally:
                CURRENT.reset(token)
        if received.again and not received.marked and self._again(received.inbox_id):
            await self._release(received.inbox_id)
        elif not received.marked:
            await self._mark_handled(received.inbox_id)

    def _again(self, row_id: int) -> bool:
        """May this update be handled again? Not for ever: one whose handling always loses the
        connection would come back every AGAIN_AFTER."""
        self._handled_again[row_id] = times = self._handled_again.get(row_id, 0) + 1
        if times <= AGAIN_AT_MOST:
            return True
        log.error("inbox row %d: the database connection went each of %d times it was "
                  "handled; given up", row_id, times)
        return False

    async def _release(self, row_id: int) -> None:
        free_at = self.clock.now() + AGAIN_AFTER
        try:
            await self.db.run(lambda s: inbox.release(s, row_id, self.holder, free_at))
        except Exception as err:  # still no database: the claim runs out by itself
            log.warning("inbox row %d: not released (%s); handled again once its claim runs "
                        "out", row_id, err)

    async def _mark_handled(self, row_id: int) -> None:
        """Recorded with retries: a mark lost to a cut connection would handle it again."""
        delay = 0.1
        while True:
            try:
                now = self.clock.now()
                await self._marks.submit((row_id, now))
                return
            except Exception:
                if self._stopping.is_set() and delay > 2.0:
                    log.error("inbox row %d: handled mark not recorded; it will be handled "
                              "again after its claim runs out", row_id)
                    return
                log.warning("inbox row %d: handled mark failed; trying again", row_id,
                            exc_info=True)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)


def _mark_all(session: Session, marks: list[tuple[int, datetime]]) -> list[None]:
    """Every handled mark waiting, in one UPDATE."""
    inbox.mark_handled(session, [row_id for row_id, _ in marks], max(at for _, at in marks))
    return [None] * len(marks)
