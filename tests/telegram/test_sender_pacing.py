"""The sender's global pace: Telegram's kind of limit (at most N sends in any window) is never
exceeded, and a late wake-up of the event loop is made up rather than lost."""

from __future__ import annotations

import asyncio
import random
import time

from bot.telegram.pacing import ChatWindows, GlobalPace, Limits

PER_WINDOW, WINDOW = 10, 0.25  # 40/s


async def test_pace_keeps_the_window_and_makes_up_late_wakeups():
    limits = Limits(global_per_window=PER_WINDOW, global_window_seconds=WINDOW)
    pace = GlobalPace(limits)
    starts = []
    for i in range(80):
        await pace.turn()
        pace.answered()  # answered at once
        starts.append(time.monotonic())
        if i % 7 == 3:
            time.sleep(0.03)  # the event loop is busy elsewhere: the next wake-up is late
    spans = [starts[i + PER_WINDOW] - starts[i] for i in range(len(starts) - PER_WINDOW)]
    assert min(spans) >= WINDOW - 0.002  # never PER_WINDOW + 1 sends inside one window
    rate = (len(starts) - 1) / (starts[-1] - starts[0])
    # Strict spacing would lose each stall (about 15% here); the grid makes it up.
    assert rate >= 0.93 * PER_WINDOW / WINDOW


async def test_a_long_pause_does_not_become_a_burst():
    limits = Limits(global_per_window=PER_WINDOW, global_window_seconds=WINDOW)
    pace = GlobalPace(limits)
    await pace.turn()
    pace.answered()
    time.sleep(1.0)  # nothing to send for a while
    starts = []
    for _ in range(PER_WINDOW + 1):
        await pace.turn()
        pace.answered()
        starts.append(time.monotonic())
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert min(gaps) >= WINDOW / PER_WINDOW / 2 - 0.002  # at most double speed while catching up
    assert starts[-1] - starts[0] >= WINDOW - 0.002


async def test_requests_travelling_unevenly_cannot_bunch_into_one_window():
    """Telegram counts a request when it arrives, anywhere between its start and its answer.
    However long each takes, no window can be made to hold more than PER_WINDOW arrivals."""
    limits = Limits(global_per_window=PER_WINDOW, global_window_seconds=WINDOW)
    pace = GlobalPace(limits)
    rng = random.Random(7)
    spans: list[tuple[float, float]] = []

    async def one() -> None:
        await pace.turn()
        start = time.monotonic()
        await asyncio.sleep(rng.choice([0.0, 0.01, 0.08, 0.2]))  # uneven travel
        pace.answered()
        spans.append((start, time.monotonic()))

    await asyncio.gather(*(one() for _ in range(4 * PER_WINDOW)))
    for t in [x for span in spans for x in span]:  # each window: the arrivals it could hold
        could = [s for s, e in spans if s <= t and e > t - WINDOW]
        assert len(could) <= PER_WINDOW
    rate = (len(spans) - 1) / (max(s for s, _ in spans) - min(s for s, _ in spans))
    assert rate >= 0.5 * PER_WINDOW / WINDOW  # slower travel costs rate, never a 429


def test_a_chats_window_counts_from_when_the_send_really_went():
    """A send handed out at 0 s but held back (a pause) until 30 s counts from 30 s."""
    windows = ChatWindows(Limits(group_per_minute=1))
    reserved = windows.note(-100, 0.0)
    assert not windows.ready(-100, 10.0)
    windows.sending(-100, reserved, 30.0)
    assert not windows.ready(-100, 61.0)
    assert windows.ready(-100, 90.5)


def test_a_private_chat_waits_a_little_over_a_second():
    """Telegram allows one message a second per private chat, counted as they arrive: two sends
    exactly a second apart here can land closer together there, so the bot keeps a margin."""
    windows = ChatWindows(Limits())
    windows.note(3001, 0.0)
    assert not windows.ready(3001, 1.0)
    assert not windows.ready(3001, 1.03)
    assert windows.ready(3001, 1.05)
