"""What went over the wire, for assertions, benchmarks and the console: every Bot API call with
the answer it got, the counters, and one readable line per event for an observer."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Call:
    """One Bot API request and the answer it got."""

    method: str
    params: dict[str, Any]
    chat_id: int | None
    time: float
    status: int
    response: dict[str, Any]
    files: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == 200


class Traffic:
    def __init__(self) -> None:
        self.observer: Callable[[str], None] | None = None
        self.requests: list[Call] = []
        self.sent_count = 0
        self.edit_count = 0
        self.count_429 = 0
        self._calls_by_method: Counter[str] = Counter()
        # per chat id: "sent", "edited", "deleted", "429"
        self.per_chat: defaultdict[int, Counter[str]] = defaultdict(Counter)

    def emit(self, line: Callable[[], str]) -> None:
        """Hands the observer a line; ``line`` is only built when someone is watching."""
        if self.observer is not None:
            self.observer(line())

    def record(self, call: Call) -> None:
        self._calls_by_method[call.method] += 1
        self.requests.append(call)

    def calls(self, method: str) -> list[Call]:
        return [call for call in self.requests if call.method.lower() == method.lower()]

    def stats(self) -> dict[str, Any]:
        return {
            "sent_count": self.sent_count,
            "edit_count": self.edit_count,
            "count_429": self.count_429,
            "calls": dict(self._calls_by_method),
            "per_chat": {str(chat_id): dict(c) for chat_id, c in self.per_chat.items()},
        }

    def reset(self) -> None:
        self.sent_count = self.edit_count = self.count_429 = 0
        self._calls_by_method.clear()
        self.per_chat.clear()
