"""Drains the outbox into Telegram: takes the due rows, lets each go at its turn (pacing.py),
sends it once and hands what became of it to send_outcomes.py, which classifies every failure
before a retry."""

from __future__ import annotations

import asyncio
import base64
import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from telegram import Bot, InputFile
from telegram.warnings import PTBUserWarning

from bot.delivery import outbox
from bot.delivery.outbox import Due
from bot.platform.clock import Clock
from bot.platform.db import Database
from bot.platform.texts import render
from bot.telegram.pacing import ChatWindows, GlobalPace, Limits
from bot.telegram.send_outcomes import REFUSALS, Outcomes

log = logging.getLogger(__name__)
# The outbox stores raw Bot API calls on purpose; PTB's hint to use typed methods is noise here.
warnings.filterwarnings("ignore", message=r"Please use 'Bot\.", category=PTBUserWarning)

IDLE_SECONDS = 0.5  # with nothing to send, look again this often (new rows wake it sooner)
REF_WAIT = timedelta(seconds=2)  # an edit waits this long for the message it edits


class OutboxSender:
    def __init__(self, db: Database, bot: Bot, clock: Clock, *, limits: Limits | None = None,
                 operator_chat_id: int | None = None,
                 on_chat_migrated: Callable[[int, int], None] | None = None,
                 may_send: Callable[[], bool] = lambda: True) -> None:
        self.db, self.bot, self.clock = db, bot, clock
        self.limits = limits or Limits()
        self.windows = ChatWindows(self.limits)
        self.pace = GlobalPace(self.limits)
        self.may_send = may_send  # the leader's fence: False, and nothing goes on the wire
        self._moved: dict[int, int] = {}  # supergroup upgrades: old chat id -> new
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._inflight: set[asyncio.Task] = set()
        # Rows taken by a send task of this process. They stay 'pending' in the database until
        # the moment their request goes (see GlobalPace.turn), so a crash before then leaves
        # them certain: sent later once, unmarked.
        self._claimed: set[int] = set()
        # Claimed rows marked 'sending' (they may have left): id -> attempts, as Due.left.
        self._on_wire: dict[int, int] = {}
        self._sem = asyncio.Semaphore(self.limits.concurrency)
        self._fenced = False  # may_send() said no at the last pass
        self.outcomes = Outcomes(db, clock, self.limits, pace=self.pace, windows=self.windows,
                                 moved=self._moved, wake=self.wake,
                                 stopping=lambda: self._stopping,
                                 operator_chat_id=operator_chat_id,
                                 on_chat_migrated=on_chat_migrated)

    @property
    def stats(self) -> dict[str, int]:
        return self.outcomes.stats

    @property
    def last_success_at(self) -> datetime | None:
        """Telegram's last 2xx (for /healthz)."""
        return self.outcomes.last_success_at

    # --- control -------------------------------------------------------------------------------

    def wake(self) -> None:
        """Safe from any thread: new rows are waiting."""
        loop = self._loop
        if loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._wake.set()
        else:
            loop.call_soon_threadsafe(self._wake.set)

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop taking new rows; let the sends in flight finish so none is left uncertain."""
        self._stopping = True
        self._wake.set()
        if self._inflight:
            await asyncio.wait(self._inflight, timeout=timeout)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._moved.update(await self.db.run(outbox.chat_moves))
        await self._recover_in_flight("in flight at the last stop")
        while not self._stopping:
            try:
                sent_any = await self._drain_once()
            except Exception:
                log.exception("outbox drain failed; retrying shortly")
                sent_any = False
                await asyncio.sleep(1.0)
            if not sent_any and not self._stopping:
                await self._idle()

    async def _idle(self) -> None:
        """Wait for new rows, or for a chat's window to let its held message go (not later:
        a reply in a private chat would otherwise lose up to IDLE_SECONDS on each send)."""
        self._wake.clear()
        now = time.monotonic()
        frees = self.windows.next_free(now)
        timeout = IDLE_SECONDS if frees is None else min(IDLE_SECONDS, frees - now + 0.001)
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=timeout)
        except TimeoutError:
            pass

    # --- one pass ------------------------------------------------------------------------------

    async def _recover_in_flight(self, why: str) -> None:
        """Rows left 'sending' by a process that is gone: they may have arrived; resent marked."""
        keep = list(self._on_wire.items())  # this process's own sends, still on the wire
        recovered = await self.db.run(
            lambda s: outbox.recover_in_flight(s, self.clock.now(), keep, why=why))
        if recovered:
            log.warning("%d outbox messages were %s; resending, marked", recovered, why)

    async def _drain_once(self) -> bool:
        if not self.may_send():
            self._fenced = True  # not (or not surely) the leader: nothing to take now
            return False
        if self._fenced:
            # Leading on after the session was lost: another leader may have led meanwhile
            # and died with rows on the wire.
            self._fenced = False
            await self._recover_in_flight("left in flight by another leader meanwhile")
        now_m = time.monotonic()
        skip = self.windows.busy(now_m)
        batch = await self.db.run(lambda s: outbox.due(s, self.clock.now(), 200, skip))
        started = False
        for item in batch:
            if self._stopping:
                break
            if item.id in self._claimed:
                continue  # on its way in this process; still 'pending' in the database
            item = await self._follow_moves(item)
            if not self.windows.ready(item.chat_id, time.monotonic()):
                continue
            await self._sem.acquire()
            self._claimed.add(item.id)
            reserved = self.windows.note(item.chat_id, time.monotonic())
            task = asyncio.create_task(self._deliver(item, reserved))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
            started = True
        return started

    async def _follow_moves(self, item: Due) -> Due:
        """A row queued for a group that has since become a supergroup (from an older reading
        of its id: a tally edit, a nudge) goes to the new id at once instead of costing a 400."""
        new_chat_id = outbox.follow(self._moved, item.chat_id)
        if new_chat_id == item.chat_id:
            return item
        await self.db.run(lambda s: outbox.move_chat(s, item.chat_id, new_chat_id))
        return replace(item, chat_id=new_chat_id)

    # --- one message ---------------------------------------------------------------------------

    async def _deliver(self, item: Due, reserved: float) -> None:
        try:
            await self._attempt(item, reserved)
        except _Stale:
            pass  # another send of it was the one, or another leader's will be
        except Exception:
            log.exception("outbox row %d: unexpected error", item.id)
            await self.outcomes.unexpected(replace(item, on_wire=item.id in self._on_wire))
        finally:
            self._claimed.discard(item.id)
            self._on_wire.pop(item.id, None)
            self._sem.release()

    async def _go_on_wire(self, item: Due) -> None:
        """Mark the row 'sending' as its request leaves; _Stale if it changed since it was read
        (its earlier send finished meanwhile, so this one must not go), or if this process is
        no longer (or not surely) the leader: another one sends now. The fence is asked again
        after the mark, since the process may have frozen during it; then the mark is undone,
        for the new leader to send the row."""
        if not self.may_send():
            raise _Stale
        if not await self.db.run(lambda s: outbox.mark_sending(s, item.id, item.attempts)):
            raise _Stale
        if not self.may_send():
            # Retried until the database takes it (often away just then): a row left
            # 'sending' would wait for a restart.
            await self.outcomes.record(
                item, lambda s: outbox.unmark_sending(s, item.id, item.attempts))
            raise _Stale
        self._on_wire[item.id] = item.attempts + 1

    async def _attempt(self, item: Due, reserved: float) -> None:
        kwargs = await self._prepare(item)
        if kwargs is None:
            return
        await self.pace.turn(lambda: self._go_on_wire(item))
        item = replace(item, on_wire=True)
        self.windows.sending(item.chat_id, reserved, time.monotonic())
        try:
            try:
                result = await self.bot.do_api_request(
                    item.method, api_kwargs=kwargs,
                    read_timeout=self.limits.send_timeout_seconds)
            finally:
                self.pace.answered()
        except REFUSALS as err:
            await self.outcomes.refused(item, err)
        else:
            message_id = result.get("message_id") if isinstance(result, dict) else None
            await self.outcomes.sent(item, message_id)

    async def _prepare(self, item: Due) -> dict | None:
        kwargs = {k: v for k, v in item.payload.items()
                  if k not in ("ref_outbox_id", outbox.AFTER)}
        kwargs["chat_id"] = item.chat_id
        ref = item.payload.get("ref_outbox_id")
        if ref is not None:
            state, message_id = await self.db.run(lambda s: outbox.message_id_of(s, ref))
            if state == "failed" or state == "missing":
                await self.outcomes.fail(
                    item, f"the message to edit (outbox {ref}) was never delivered")
                return None
            if message_id is None:
                await self.outcomes.retry(item, "waiting for the message to edit", REF_WAIT,
                                          count_attempt=False)
                return None
            kwargs["message_id"] = message_id
        for field in ("document", "photo"):
            value = kwargs.get(field)
            if isinstance(value, dict) and "base64" in value:
                kwargs[field] = InputFile(base64.b64decode(value["base64"]),
                                          filename=value.get("filename"))
        if item.uncertain and item.method.startswith("send"):
            marker = render("resend_marker")
            key = "text" if "text" in kwargs else "caption"
            kwargs[key] = f"{marker}\n\n{kwargs.get(key) or ''}".strip()
        return kwargs


class _Stale(Exception):  # noqa: N818 (a signal, not an error)
    """Not this process's to send: the row changed since it was read (its earlier send
    finished meanwhile), or this process no longer surely leads (the new leader sends it)."""
