"""Drains the outbox into Telegram within its limits; classifies every failure before retrying.

Pacing lives here rather than in PTB's AIORateLimiter: that limiter is per process, lets an
initial burst through and ends a retry_after pause early (PTB issue 5338).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
import time
import warnings
import zlib
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlmodel import Session
from telegram import Bot, InputFile
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.warnings import PTBDeprecationWarning, PTBUserWarning

from bot.delivery import outbox
from bot.delivery.outbox import Due
from bot.platform import metrics
from bot.platform.clock import Clock
from bot.platform.db import Database
from bot.platform.texts import render

log = logging.getLogger(__name__)
# The outbox stores raw Bot API calls on purpose; PTB's hint to use typed methods is noise here.
warnings.filterwarnings("ignore", message=r"Please use 'Bot\.", category=PTBUserWarning)
# _seconds() reads retry_after as int or timedelta, so PTB's coming type change is handled.
warnings.filterwarnings("ignore", message=r".*`retry_after` will be",
                        category=PTBDeprecationWarning)

# Words of Telegram's refusal -> the advice the operator gets (messages/operator_delivery_failed).
FAILURE_KINDS = (
    ("too long", "too_long"),
    ("chat not found", "chat_not_found"),
    ("kicked", "not_member"),
    ("not a member", "not_member"),
    ("rights to send", "no_rights"),
    ("not enough rights", "no_rights"),
    ("can't parse entities", "bad_html"),
    ("blocked by the user", "blocked"),
    ("user is deactivated", "blocked"),
)

IDLE_SECONDS = 0.5  # with nothing to send, look again this often (new rows wake it sooner)
MAX_ATTEMPTS = 25  # with the 5-minute cap on backoff: about two hours of trying, then failed
RECORD_GRACE_S = 5.0  # while stopping, how long an outcome's write is tried before giving up
REF_WAIT = timedelta(seconds=2)  # an edit waits this long for the message it edits
CAP_RECOVERY_S = 10.0  # after a 429, one more request per window this often, up to the limit


@dataclass(frozen=True)
class Limits:
    # Telegram: 30/s per bot over any sliding second. A send counts in the window from its
    # start until one second after its answer (see _pace), so however requests travel no
    # second can see more than this many of them arrive.
    global_per_window: int = 30
    global_window_seconds: float = 1.0
    group_per_minute: int = 19  # Telegram: about 20/min per group
    # Telegram: 1/s per private chat, counted as the sends arrive. One per 1.04 s: the same
    # 40 ms of margin, or two replies a second apart here may land closer together there.
    private_per_second: float = 1 / 1.04
    concurrency: int = 16
    retry_base_seconds: float = 1.0  # first backoff step; doubles up to retry_cap_seconds
    retry_cap_seconds: float = 300.0
    send_timeout_seconds: float = 15.0  # no answer by then: the send is uncertain


class ChatWindows:
    """Sliding windows of recent sends per chat, plus holds imposed by a 429."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._sent: dict[int, deque[float]] = {}
        self._held_until: dict[int, float] = {}

    def _window(self, chat_id: int) -> tuple[int, float]:
        if chat_id < 0:
            return self.limits.group_per_minute, 60.0
        return 1, 1.0 / self.limits.private_per_second

    def ready(self, chat_id: int, now: float) -> bool:
        if self._held_until.get(chat_id, 0.0) > now:
            return False
        sent = self._sent.get(chat_id)
        if not sent:
            return True
        cap, span = self._window(chat_id)
        while sent and sent[0] <= now - span:
            sent.popleft()
        return len(sent) < cap

    def note(self, chat_id: int, now: float) -> float:
        """Reserve a place in the chat's window for a send handed out now; returns it."""
        self._sent.setdefault(chat_id, deque()).append(now)
        return now

    def sending(self, chat_id: int, reserved: float, now: float) -> None:
        """The reserved send goes out now (after the global pace): the window counts from the
        real time, so sends held back by a pause cannot bunch up in one chat's minute."""
        sent = self._sent.get(chat_id)
        if sent is not None and reserved in sent:
            sent.remove(reserved)
            sent.append(now)  # the latest stamp: the deque stays in time order

    def others_held(self, chat_id: int, now: float) -> bool:
        """Another chat is waiting out a 429 too."""
        return any(t > now for c, t in self._held_until.items() if c != chat_id)

    def hold(self, chat_id: int, until: float) -> None:
        self._held_until[chat_id] = max(until, self._held_until.get(chat_id, 0.0))

    def next_free(self, now: float) -> float | None:
        """When the first chat that cannot take a message now can again (None: none waits)."""
        frees = [t for t in self._held_until.values() if t > now]
        for chat_id, sent in self._sent.items():
            cap, span = self._window(chat_id)
            if len(sent) >= cap:
                frees.append(sent[len(sent) - cap] + span)  # when the window has room again
        return min((t for t in frees if t > now), default=None)

    def busy(self, now: float) -> list[int]:
        """Chats that cannot take a message now, to leave out of the next fetch."""
        out = [c for c, t in self._held_until.items() if t > now]
        out += [c for c in self._sent if c not in self._held_until and not self.ready(c, now)]
        return out


class OutboxSender:
    def __init__(self, db: Database, bot: Bot, clock: Clock, *, limits: Limits | None = None,
                 operator_chat_id: int | None = None,
                 on_chat_migrated: Callable[[int, int], None] | None = None,
                 may_send: Callable[[], bool] = lambda: True) -> None:
        self.db, self.bot, self.clock = db, bot, clock
        self.limits = limits or Limits()
        self.windows = ChatWindows(self.limits)
        self.operator_chat_id = operator_chat_id
        self.on_chat_migrated = on_chat_migrated
        self.may_send = may_send  # the leader's fence: False, and nothing goes on the wire
        self._moved: dict[int, int] = {}  # supergroup upgrades: old chat id -> new
        self.last_success_at: datetime | None = None  # Telegram's last 2xx (for /healthz)
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._next_slot = 0.0
        self._paused_until = 0.0  # a 429 for the bot as a whole: nobody sends before this
        self._starts: deque[float] = deque(maxlen=self.limits.global_per_window)
        self._pace_lock = asyncio.Lock()
        self._in_flight = 0  # requests started and not answered yet
        self._answered: deque[float] = deque()  # when recent requests were answered
        self._room = asyncio.Event()  # an answer came: the window may have room again
        self._cap = self.limits.global_per_window  # lowered after a 429, raised back slowly
        self._cap_lowered_at = 0.0
        self._inflight: set[asyncio.Task] = set()
        # Rows taken by a send task of this process. They stay 'pending' in the database until
        # the moment their request goes (see _pace), so a crash before then leaves them
        # certain: sent later once, unmarked.
        self._claimed: set[int] = set()
        self._on_wire: set[int] = set()  # claimed rows marked 'sending': they may have left
        self._sem = asyncio.Semaphore(self.limits.concurrency)
        self.stats = {"sent": 0, "retried": 0, "failed": 0, "uncertain": 0, "429": 0}

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
        self._moved = await self.db.run(outbox.chat_moves)
        recovered = await self.db.run(lambda s: outbox.recover_in_flight(s, self.clock.now()))
        if recovered:
            log.warning("%d outbox messages were in flight at the last stop; resending, marked",
                        recovered)
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

    async def _drain_once(self) -> bool:
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

    async def _pace(self, on_slot: Callable[[], Awaitable[None]] | None = None) -> None:
        """Let sends go one at a time: evenly spaced, never more than `global_per_window` in
        any `global_window_seconds` (Telegram's own kind of limit).

        Called right before each request. Inside the lock, once its slot has come, `on_slot`
        marks the row 'sending' — only what is really about to go on the wire is uncertain
        after a crash — and the start is stamped after that write, so a slow write delays this send
        and those behind it but cannot bunch them. Waiters pass in order through one lock. Slots
        lie on a fixed grid, so a wake-up late by up to one interval is made up by the next
        send (at no less than half spacing) instead of being lost; more than that is forgotten,
        so a stall never becomes a burst. The window check makes the limit hold regardless.
        """
        limits = self.limits
        interval = limits.global_window_seconds / limits.global_per_window
        async with self._pace_lock:
            now = time.monotonic()
            slot = max(self._next_slot, now - interval)
            at = slot
            if self._starts:
                at = max(at, self._starts[-1] + interval / 2)
            if len(self._starts) == limits.global_per_window:
                at = max(at, self._starts[0] + limits.global_window_seconds)
            if at > now:
                await asyncio.sleep(at - now)
            # A 429 for the whole bot may have come in while we slept: wait it out too.
            while (paused := self._paused_until - time.monotonic()) > 0:
                await asyncio.sleep(paused)
            await self._window_room()
            if on_slot is not None:
                await on_slot()
            self._starts.append(time.monotonic())
            self._in_flight += 1
            self._next_slot = slot + interval

    async def _window_room(self) -> None:
        """Wait until fewer than the cap of requests are in flight or were answered within
        the last window. Telegram counts a request when it arrives, some time between its
        start and its answer; so any second of arrivals holds only requests that, when the
        latest of them started, were in flight or answered less than a window before: never
        more than the cap, however unevenly they travel (no margin needed for that)."""
        window = self.limits.global_window_seconds
        while True:
            now = time.monotonic()
            while self._answered and self._answered[0] <= now - window:
                self._answered.popleft()
            self._restore_cap(now)
            if self._in_flight + len(self._answered) < self._cap:
                return
            self._room.clear()
            expires = self._answered[0] + window - now if self._answered else window
            try:
                await asyncio.wait_for(self._room.wait(), timeout=max(expires, 0.001))
            except TimeoutError:
                pass

    def _answer_came(self) -> None:
        """A request started by _pace has its answer (or failed): it counts until a window
        from now."""
        self._in_flight -= 1
        self._answered.append(time.monotonic())
        self._room.set()

    def _lower_cap(self, now: float) -> None:
        """A 429 all the same (another sender on the token, answers to button presses): keep
        fewer requests in each window for a while."""
        floor = self.limits.global_per_window * 2 // 3
        self._cap = max(floor, self._cap - 3)
        self._cap_lowered_at = now

    def _restore_cap(self, now: float) -> None:
        """One more request per window for every CAP_RECOVERY_S without a 429."""
        if self._cap < self.limits.global_per_window and \
                now - self._cap_lowered_at >= CAP_RECOVERY_S:
            self._cap += 1
            self._cap_lowered_at = now

    # --- one message ---------------------------------------------------------------------------

    async def _deliver(self, item: Due, reserved: float) -> None:
        try:
            await self._attempt(item, reserved)
        except _Stale:
            pass  # read before its last send finished: that send was the one
        except Exception:
            log.exception("outbox row %d: unexpected error", item.id)
            # Once marked 'sending' it may have left: then its resend is marked.
            at = self.clock.now() + self._backoff(item.attempts + 1)
            uncertain = item.id in self._on_wire
            await self._record(item, lambda s: outbox.mark_retry(
                s, item.id, error="unexpected error", at=at, uncertain=uncertain))
        finally:
            self._claimed.discard(item.id)
            self._on_wire.discard(item.id)
            self._sem.release()

    async def _go_on_wire(self, item: Due) -> None:
        """Mark the row 'sending' as its request leaves; _Stale if it changed since it was read
        (its earlier send finished meanwhile, so this one must not go)."""
        if not self.may_send():  # no longer (or not surely) the leader: another one sends now
            raise _Stale
        if not await self.db.run(lambda s: outbox.mark_sending(s, item.id, item.attempts)):
            raise _Stale
        self._on_wire.add(item.id)

    async def _record(self, item: Due, write: Callable[[Session], object]) -> None:
        """Write what became of a send, trying again until the database takes it: Telegram
        has answered, and a lost answer would send the message again. Given up only while
        stopping (after a few seconds): the row stays 'sending' and its resend is marked."""
        delay, deadline = 0.1, None
        while True:
            try:
                await self.db.run(write)
                return
            except Exception:
                log.warning("outbox row %d: recording the outcome failed; trying again",
                            item.id, exc_info=True)
            if self._stopping:
                deadline = deadline or time.monotonic() + RECORD_GRACE_S
                if time.monotonic() > deadline:
                    log.error("outbox row %d: outcome not recorded; it will be resent marked",
                              item.id)
                    return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _attempt(self, item: Due, reserved: float) -> None:
        kwargs = await self._prepare(item)
        if kwargs is None:
            return
        await self._pace(lambda: self._go_on_wire(item))
        self.windows.sending(item.chat_id, reserved, time.monotonic())
        try:
            try:
                result = await self.bot.do_api_request(
                    item.method, api_kwargs=kwargs,
                    read_timeout=self.limits.send_timeout_seconds)
            finally:
                self._answer_came()
        except RetryAfter as err:
            self.stats["429"] += 1
            metrics.TELEGRAM_429.inc()
            wait = _seconds(err.retry_after)
            now = time.monotonic()
            self._lower_cap(now)
            # Telegram does not say which limit it was. One chat refused: that chat waits
            # (its own limit, or sends from before a restart). A second chat refused meanwhile:
            # the flood is the bot's as a whole (another process on the token, say): all wait.
            everyone = self.windows.others_held(item.chat_id, now)
            self.windows.hold(item.chat_id, now + wait)
            if everyone:
                self._paused_until = max(self._paused_until, now + wait)
            log.warning("429 for chat %d: %s waiting %.0f s", item.chat_id,
                        "every chat" if everyone else "this chat", wait)
            await self._retry(item, f"429 retry after {wait:.0f}s", timedelta(seconds=wait),
                              count_attempt=False)
        except ChatMigrated as err:
            await self._migrated(item, err.new_chat_id)
        except TimedOut as err:
            await self._uncertain(item, err)
        except Forbidden as err:
            await self._fail(item, f"forbidden: {err.message}")
        except BadRequest as err:
            if "message is not modified" in err.message:
                await self._sent(item, None)
            else:
                await self._fail(item, f"bad request: {err.message}")
        except NetworkError as err:  # 5xx and connection errors: worth trying again
            await self._retry(item, f"network: {err.message}", self._backoff(item.attempts + 1))
        else:
            message_id = result.get("message_id") if isinstance(result, dict) else None
            await self._sent(item, message_id)

    async def _prepare(self, item: Due) -> dict | None:
        kwargs = {k: v for k, v in item.payload.items()
                  if k not in ("ref_outbox_id", outbox.AFTER)}
        kwargs["chat_id"] = item.chat_id
        ref = item.payload.get("ref_outbox_id")
        if ref is not None:
            state, message_id = await self.db.run(lambda s: outbox.message_id_of(s, ref))
            if state == "failed" or state == "missing":
                await self._fail(item, f"the message to edit (outbox {ref}) was never delivered")
                return None
            if message_id is None:
                await self._retry(item, "waiting for the message to edit", REF_WAIT,
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

    # --- outcomes ------------------------------------------------------------------------------

    def _backoff(self, attempt: int) -> timedelta:
        """Capped exponential backoff with jitter, so retries from many rows don't align."""
        step = outbox.backoff(attempt, base=self.limits.retry_base_seconds,
                              cap=self.limits.retry_cap_seconds).total_seconds()
        return timedelta(seconds=random.uniform(step / 2, step))

    async def _sent(self, item: Due, message_id: int | None) -> None:
        self.stats["sent"] += 1
        metrics.MESSAGES_SENT.labels(metrics.kind_of(item.key)).inc()
        self.last_success_at = self.clock.now()
        now = self.clock.now()
        await self._record(item, lambda s: outbox.mark_sent(s, item.id, message_id, now))

    async def _retry(self, item: Due, error: str, delay: timedelta, *,
                     count_attempt: bool = True) -> None:
        if count_attempt and item.attempts + 1 >= MAX_ATTEMPTS:
            await self._fail(item, f"gave up after {MAX_ATTEMPTS} attempts: {error}")
            return
        self.stats["retried"] += 1
        at = self.clock.now() + delay
        await self._record(item, lambda s: outbox.mark_retry(s, item.id, error=error, at=at))
        self.wake()

    async def _uncertain(self, item: Due, err: Exception) -> None:
        """No answer: it may have arrived. Resend once, visibly marked; never more."""
        self.stats["uncertain"] += 1
        if item.uncertain:
            await self._fail(item, f"no answer again after a marked resend: {err}")
            return
        at = self.clock.now() + self._backoff(1)
        await self._record(item, lambda s: outbox.mark_retry(
            s, item.id, error=f"timed out: {err}", at=at, uncertain=True))
        self.wake()

    async def _migrated(self, item: Due, new_chat_id: int) -> None:
        log.warning("chat %d became supergroup %d; following it", item.chat_id, new_chat_id)
        self._moved[item.chat_id] = new_chat_id

        def follow(session: Session) -> None:
            outbox.move_chat(session, item.chat_id, new_chat_id)
            outbox.requeue_to(session, item.id, new_chat_id)  # moved already by another send

        await self._record(item, follow)
        if self.on_chat_migrated is not None:
            await asyncio.to_thread(self.on_chat_migrated, item.chat_id, new_chat_id)
        self.wake()

    async def _fail(self, item: Due, reason: str) -> None:
        self.stats["failed"] += 1
        metrics.MESSAGES_FAILED.labels(metrics.kind_of(item.key)).inc()
        log.error("outbox row %d to chat %d failed: %s", item.id, item.chat_id, reason)
        now = self.clock.now()

        def record(session) -> None:  # noqa: ANN001
            outbox.mark_failed(session, item.id, error=reason, now=now)
            if self.operator_chat_id and item.chat_id != self.operator_chat_id:
                # Keyed by chat and reason: the operator hears once, not once per message.
                outbox.send_message(
                    session, key=f"alert:{item.chat_id}:{zlib.crc32(reason.encode())}",
                    chat_id=self.operator_chat_id,
                    text=render("operator_delivery_failed", chat_id=item.chat_id, reason=reason,
                                kind=failure_kind(reason)),
                    now=now, priority=outbox.PRIORITY_REPORT)

        await self._record(item, record)


class _Stale(Exception):  # noqa: N818 (a signal, not an error)
    """The row changed since it was read (its earlier send finished meanwhile): skip it."""


def failure_kind(reason: str) -> str:
    """What went wrong, for the operator's advice: each failure needs a different fix."""
    lowered = reason.lower()
    return next((kind for words, kind in FAILURE_KINDS if words in lowered), "other")


def _seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


