"""Injectable time source: services never call datetime.now() themselves."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant as an aware UTC datetime."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock that tests (and the demo) move by hand."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when.astimezone(UTC)

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        step = delta if delta is not None else timedelta(**kwargs)
        with self._lock:
            self._now += step
            return self._now


class RunningClock:
    """Starts at a chosen instant and runs at real speed: retries and timeouts behave as in
    production while the calendar sits on a test date. `jump` moves it like a FakeClock."""

    def __init__(self, start: datetime) -> None:
        import time

        self._monotonic = time.monotonic
        self._origin = self._monotonic()
        self._start = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._start + timedelta(seconds=self._monotonic() - self._origin)

    def set(self, when: datetime) -> None:
        with self._lock:
            self._start = when.astimezone(UTC)
            self._origin = self._monotonic()

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        step = delta if delta is not None else timedelta(**kwargs)
        with self._lock:
            self._start += step
        return self.now()
