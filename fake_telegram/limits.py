"""Telegram's limits, and the refusals a call over one of them gets: flood windows (429 with
retry_after), text and caption lengths, callback data size and the time to answer a press."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fake_telegram.text import utf16_len
from fake_telegram.wire import ApiError

if TYPE_CHECKING:
    from fake_telegram.chats import Chat
    from fake_telegram.traffic import Traffic

# Telegram's flood limits (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this),
# strictly, over sliding windows: Telegram tolerates short bursts, but no bot may count on them.
GLOBAL_LIMIT = 30  # messages ...
GLOBAL_PERIOD = 1.0  # ... per any sliding second, over all chats
GROUP_LIMIT = 20  # messages ...
GROUP_PERIOD = 60.0  # ... per sliding minute, per group or supergroup
PRIVATE_LIMIT = 1  # message ...
PRIVATE_PERIOD = 1.0  # ... per sliding second, per private chat
RATE_LIMITED_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "copyMessage",
        "editMessageText",
        "editMessageCaption",
        "editMessageReplyMarkup",
    }
)

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
# A callback query not answered within this many seconds of the press is "too old". The Bot API
# documents no figure; about 15 s is what bots observe (the client's progress bar gives up then).
CALLBACK_ANSWER_SECONDS = 15.0
MAX_UPLOAD_BYTES = 60 * 1024 * 1024


class _SlidingWindow:
    """At most ``limit`` events in any ``period`` seconds."""

    __slots__ = ("limit", "period", "stamps")

    def __init__(self, limit: int, period: float) -> None:
        self.limit = limit
        self.period = period
        self.stamps: deque[float] = deque()

    def wait(self, now: float) -> float:
        horizon = now - self.period
        while self.stamps and self.stamps[0] <= horizon:
            self.stamps.popleft()
        if len(self.stamps) < self.limit:
            return 0.0
        return self.stamps[0] + self.period - now

    def record(self, now: float) -> None:
        self.stamps.append(now)


class _RateLimiter:
    def __init__(self) -> None:
        self._global = _SlidingWindow(GLOBAL_LIMIT, GLOBAL_PERIOD)
        self._chats: dict[int, _SlidingWindow] = {}

    def acquire(self, chat_id: int, private: bool, now: float) -> int:
        """Takes a slot and returns 0, or returns the whole seconds to wait (at least 1)."""
        per_chat = self._chats.get(chat_id)
        if per_chat is None:
            limits = (PRIVATE_LIMIT, PRIVATE_PERIOD) if private else (GROUP_LIMIT, GROUP_PERIOD)
            per_chat = self._chats[chat_id] = _SlidingWindow(*limits)
        wait = max(self._global.wait(now), per_chat.wait(now))
        if wait > 0:
            return max(1, math.ceil(wait))
        self._global.record(now)
        per_chat.record(now)
        return 0


class FloodLimits:
    """The flood limits on the methods that send or edit a message. A call over one gets 429
    with the whole seconds to wait, takes no slot, and counts in the traffic's 429s."""

    def __init__(self, enabled: bool, clock: Callable[[], float], traffic: Traffic) -> None:
        self.enabled = enabled
        self.clock = clock
        self.traffic = traffic
        self._limiter = _RateLimiter()

    def admit(self, method: str, chat: Chat) -> Chat:
        """``chat``, once ``method`` may go to it now."""
        if self.enabled and method in RATE_LIMITED_METHODS:
            wait = self._limiter.acquire(chat.id, chat.is_private, self.clock())
            if wait:
                self.traffic.count_429 += 1
                self.traffic.per_chat[chat.id]["429"] += 1
                self.traffic.emit(lambda: f"[429] [{chat.label}] {method}: retry after {wait}")
                raise ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
        return chat


def check_length(plain: str, limit: int, description: str) -> None:
    """Telegram counts what the reader sees (after entity parsing) in UTF-16 code units."""
    if utf16_len(plain) > limit:
        raise ApiError(400, description)


def check_callback_data(data: Any) -> None:
    """A button's callback data: 1 to MAX_CALLBACK_DATA_BYTES bytes."""
    if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA_BYTES:
        raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
