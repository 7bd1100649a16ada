"""Failures a test asks for: the next calls of a method refused as told (fail_next), or carried
out with their answer held back until the client has given up (drop_response_next)."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fake_telegram.wire import error_body

# Called with each Bot API call (method, parameters) before anything else; a (status, body)
# it returns is the answer.
FaultHook = Callable[[str, dict[str, Any]], "tuple[int, dict[str, Any]] | None"]


@dataclass
class Fault:
    """The next ``remaining`` calls (to ``chat_id``, if set) get this error."""

    remaining: int
    status: int
    description: str
    retry_after: int | None
    chat_id: int | None

    def body(self) -> dict[str, Any]:
        parameters = {"retry_after": self.retry_after} if self.retry_after is not None else None
        return error_body(self.status, self.description, parameters)


@dataclass
class Drop:
    """The next ``remaining`` successful calls have their answers held back ``delay`` s."""

    remaining: int
    delay: float


class Faults:
    """The faults asked for and not yet spent, by method (case-insensitive, as dispatch)."""

    def __init__(self) -> None:
        self._faults: defaultdict[str, deque[Fault]] = defaultdict(deque)
        self._drops: defaultdict[str, deque[Drop]] = defaultdict(deque)

    def fail_next(self, method: str, fault: Fault) -> None:
        if fault.remaining < 1:
            raise ValueError("count must be at least 1")
        self._faults[method.lower()].append(fault)

    def drop_response_next(self, method: str, drop: Drop) -> None:
        if drop.remaining < 1:
            raise ValueError("count must be at least 1")
        self._drops[method.lower()].append(drop)

    def take_fault(self, method: str, chat_id: int | None) -> Fault | None:
        """The fault this call gets, if any (one of its count spent)."""
        queue = self._faults.get(method.lower())
        if not queue:
            return None
        for fault in queue:
            if fault.chat_id is None or fault.chat_id == chat_id:
                fault.remaining -= 1
                if fault.remaining == 0:
                    queue.remove(fault)
                return fault
        return None

    def take_drop(self, method: str) -> float:
        """The seconds this successful call's answer is held back (0: none)."""
        queue = self._drops.get(method.lower())
        if not queue:
            return 0.0
        drop = queue[0]
        drop.remaining -= 1
        if drop.remaining == 0:
            queue.popleft()
        return drop.delay
