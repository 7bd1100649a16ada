"""What became of a send, written on its outbox row: sent, tried again later, failed (and the
operator told why), or uncertain (resent once, marked). Telegram's refusals are classified here,
each kind to its own outcome."""

from __future__ import annotations

import asyncio
import logging
import random
import time
import warnings
import zlib
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlmodel import Session
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.warnings import PTBDeprecationWarning

from bot.delivery import outbox
from bot.delivery.outbox import Due
from bot.platform import metrics
from bot.platform.clock import Clock
from bot.platform.db import Database
from bot.platform.texts import render
from bot.telegram.pacing import ChatWindows, GlobalPace, Limits, after_429

log = logging.getLogger(__name__)
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
# The errors `refused` classifies; any other is unexpected (the sender retries it, marked if it
# may have left).
REFUSALS = (RetryAfter, ChatMigrated, TimedOut, Forbidden, BadRequest, NetworkError)

MAX_ATTEMPTS = 25  # with the 5-minute cap on backoff: about two hours of trying, then failed
RECORD_GRACE_S = 5.0  # while stopping, how long an outcome's write is tried before giving up


class Outcomes:
    """Writes each send's outcome, and slows the pace down after a 429."""

    def __init__(self, db: Database, clock: Clock, limits: Limits, *, pace: GlobalPace,
                 windows: ChatWindows, moved: dict[int, int], wake: Callable[[], None],
                 stopping: Callable[[], bool], operator_chat_id: int | None = None,
                 on_chat_migrated: Callable[[int, int], None] | None = None) -> None:
        self.db, self.clock, self.limits = db, clock, limits
        self.pace, self.windows = pace, windows
        self.moved = moved  # the sender's supergroup upgrades (old chat id -> new), kept current
        self.wake = wake  # a retry is due: the sender looks again
        self.stopping = stopping
        self.operator_chat_id = operator_chat_id
        self.on_chat_migrated = on_chat_migrated
        self.last_success_at: datetime | None = None  # Telegram's last 2xx (for /healthz)
        self.stats = {"sent": 0, "retried": 0, "failed": 0, "uncertain": 0, "429": 0}

    async def refused(self, item: Due, err: TelegramError) -> None:
        """Telegram refused the send, or did not answer (one of REFUSALS): what now."""
        if isinstance(err, RetryAfter):
            self.stats["429"] += 1
            metrics.TELEGRAM_429.inc()
            wait = _seconds(err.retry_after)
            everyone = after_429(self.pace, self.windows, item.chat_id, wait)
            log.warning("429 for chat %d: %s waiting %.0f s", item.chat_id,
                        "every chat" if everyone else "this chat", wait)
            await self.retry(item, f"429 retry after {wait:.0f}s", timedelta(seconds=wait),
                             count_attempt=False)
        elif isinstance(err, ChatMigrated):
            await self._migrated(item, err.new_chat_id)
        elif isinstance(err, TimedOut):
            await self._uncertain(item, err)
        elif isinstance(err, Forbidden):
            await self.fail(item, f"forbidden: {err.message}")
        elif isinstance(err, BadRequest):
            if "message is not modified" in err.message:
                await self.sent(item, None)
            else:
                await self.fail(item, f"bad request: {err.message}")
        else:  # NetworkError: 5xx and connection errors, worth trying again
            await self.retry(item, f"network: {err.message}", self.backoff(item.attempts + 1))

    async def unexpected(self, item: Due) -> None:
        """An error nobody foresaw: tried again later. Once marked 'sending' (`on_wire`) it may
        have left: then its resend is marked."""
        at = self.clock.now() + self.backoff(item.attempts + 1)
        await self.record(item, lambda s: outbox.mark_retry(
            s, item.id, error="unexpected error", at=at, uncertain=item.on_wire, left=item.left))

    async def record(self, item: Due, write: Callable[[Session], bool]) -> None:
        """Write what became of a send, trying again until the database takes it: Telegram
        has answered, and a lost answer would send the message again. Given up only while
        stopping (after a few seconds): the row stays 'sending' and its resend is marked.
        A row no longer as this send left it (Due.left) is not touched: another process
        leads now and has taken it over."""
        delay, deadline = 0.1, None
        while True:
            try:
                if not await self.db.run(write):
                    log.warning("outbox row %d: taken over by the process leading now; this "
                                "send's outcome is not written", item.id)
                return
            except Exception:
                log.warning("outbox row %d: recording the outcome failed; trying again",
                            item.id, exc_info=True)
            if self.stopping():
                deadline = deadline or time.monotonic() + RECORD_GRACE_S
                if time.monotonic() > deadline:
                    log.error("outbox row %d: outcome not recorded; it will be resent marked",
                              item.id)
                    return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    def backoff(self, attempt: int) -> timedelta:
        """Capped exponential backoff with jitter, so retries from many rows don't align."""
        step = outbox.backoff(attempt, base=self.limits.retry_base_seconds,
                              cap=self.limits.retry_cap_seconds).total_seconds()
        return timedelta(seconds=random.uniform(step / 2, step))

    async def sent(self, item: Due, message_id: int | None) -> None:
        self.stats["sent"] += 1
        metrics.MESSAGES_SENT.labels(metrics.kind_of(item.key)).inc()
        self.last_success_at = self.clock.now()
        now = self.clock.now()
        await self.record(item, lambda s: outbox.mark_sent(
            s, item.id, message_id, now, left=item.left))

    async def retry(self, item: Due, error: str, delay: timedelta, *,
                    count_attempt: bool = True) -> None:
        if count_attempt and item.attempts + 1 >= MAX_ATTEMPTS:
            await self.fail(item, f"gave up after {MAX_ATTEMPTS} attempts: {error}")
            return
        self.stats["retried"] += 1
        at = self.clock.now() + delay
        await self.record(item, lambda s: outbox.mark_retry(
            s, item.id, error=error, at=at, left=item.left))
        self.wake()

    async def _uncertain(self, item: Due, err: Exception) -> None:
        """No answer: it may have arrived. Resend once, visibly marked; never more."""
        self.stats["uncertain"] += 1
        if item.uncertain:
            await self.fail(item, f"no answer again after a marked resend: {err}")
            return
        at = self.clock.now() + self.backoff(1)
        await self.record(item, lambda s: outbox.mark_retry(
            s, item.id, error=f"timed out: {err}", at=at, uncertain=True, left=item.left))
        self.wake()

    async def _migrated(self, item: Due, new_chat_id: int) -> None:
        log.warning("chat %d became supergroup %d; following it", item.chat_id, new_chat_id)
        self.moved[item.chat_id] = new_chat_id

        def follow(session: Session) -> bool:
            moved = outbox.move_chat(session, item.chat_id, new_chat_id)
            # Moved already with the others, or by another send meanwhile.
            return outbox.requeue_to(session, item.id, new_chat_id, left=item.left) or moved > 0

        await self.record(item, follow)
        if self.on_chat_migrated is not None:
            await asyncio.to_thread(self.on_chat_migrated, item.chat_id, new_chat_id)
        self.wake()

    async def fail(self, item: Due, reason: str) -> None:
        self.stats["failed"] += 1
        metrics.MESSAGES_FAILED.labels(metrics.kind_of(item.key)).inc()
        log.error("outbox row %d to chat %d failed: %s", item.id, item.chat_id, reason)
        now = self.clock.now()

        def write(session) -> bool:  # noqa: ANN001
            if not outbox.mark_failed(session, item.id, error=reason, now=now, left=item.left):
                return False
            if self.operator_chat_id and item.chat_id != self.operator_chat_id:
                # Keyed by chat and reason: the operator hears once, not once per message.
                outbox.send_message(
                    session, key=f"alert:{item.chat_id}:{zlib.crc32(reason.encode())}",
                    chat_id=self.operator_chat_id,
                    text=render("operator_delivery_failed", chat_id=item.chat_id, reason=reason,
                                kind=failure_kind(reason)),
                    now=now, priority=outbox.PRIORITY_REPORT)
            return True

        await self.record(item, write)


def failure_kind(reason: str) -> str:
    """What went wrong, for the operator's advice: each failure needs a different fix."""
    lowered = reason.lower()
    return next((kind for words, kind in FAILURE_KINDS if words in lowered), "other")


def _seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
