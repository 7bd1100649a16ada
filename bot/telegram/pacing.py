"""The sender's pace within Telegram's limits: per chat (ChatWindows) and for the bot as a whole
(GlobalPace), and how both slow down after a 429 (after_429).

Pacing lives here rather than in PTB's AIORateLimiter: that limiter is per process, lets an
initial burst through and ends a retry_after pause early (PTB issue 5338).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

CAP_RECOVERY_S = 10.0  # after a 429, one more request per window this often, up to the limit


@dataclass(frozen=True)
class Limits:
    """Telegram's limits as the sender keeps them, and its own: concurrency, backoff, timeout."""

    # Telegram: 30/s per bot over any sliding second. A send counts in the window from its
    # start until one second after its answer (see GlobalPace), so however requests travel no
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


class GlobalPace:
    """The bot's requests over all chats, whatever the chat: evenly spaced, never more than the
    cap in any window (in flight or answered), a lower cap for a while after a 429."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._next_slot = 0.0
        self._paused_until = 0.0  # a 429 for the bot as a whole: nobody sends before this
        self._starts: deque[float] = deque(maxlen=limits.global_per_window)
        self._lock = asyncio.Lock()
        self._in_flight = 0  # requests started and not answered yet
        self._answered: deque[float] = deque()  # when recent requests were answered
        self._room = asyncio.Event()  # an answer came: the window may have room again
        self._cap = limits.global_per_window  # lowered after a 429, raised back slowly
        self._cap_lowered_at = 0.0

    async def turn(self, on_slot: Callable[[], Awaitable[None]] | None = None) -> None:
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
        async with self._lock:
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

    def answered(self) -> None:
        """A request started by turn() has its answer (or failed): it counts until a window
        from now."""
        self._in_flight -= 1
        self._answered.append(time.monotonic())
        self._room.set()

    def lower_cap(self, now: float) -> None:
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

    def pause_all(self, until: float) -> None:
        """A 429 for the bot as a whole: no request starts before `until`."""
        self._paused_until = max(self._paused_until, until)


def after_429(pace: GlobalPace, windows: ChatWindows, chat_id: int, wait: float) -> bool:
    """Slow down after a 429 in `chat_id` asking to wait `wait` seconds; True: every chat waits.

    Telegram does not say which limit it was. One chat refused: that chat waits (its own limit,
    or sends from before a restart). A second chat refused meanwhile: the flood is the bot's as
    a whole (another process on the token, say): all wait.
    """
    now = time.monotonic()
    pace.lower_cap(now)
    everyone = windows.others_held(chat_id, now)
    windows.hold(chat_id, now + wait)
    if everyone:
        pace.pause_all(now + wait)
    return everyone
