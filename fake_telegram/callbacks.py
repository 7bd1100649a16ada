"""Callback queries: a user's press on an inline button, and the bot's one answer to it
(answerCallbackQuery), due within CALLBACK_ANSWER_SECONDS; later, or a second time, Telegram
calls the query too old."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fake_telegram.limits import CALLBACK_ANSWER_SECONDS
from fake_telegram.wire import ApiError, Handler, Upload

if TYPE_CHECKING:
    from fake_telegram.chats import Chat, FakeUser
    from fake_telegram.messages import SentMessage
    from fake_telegram.traffic import Traffic

QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"


@dataclass
class _PendingQuery:
    pressed_at: float
    user_id: int
    chat_id: int
    message_id: int
    data: str


def _chat_instance(chat_id: int) -> str:
    return str((chat_id * 2654435761) % (2**63))


class CallbackQueries:
    def __init__(self, clock: Callable[[], float], traffic: Traffic) -> None:
        self.clock = clock
        self.traffic = traffic
        self.answers: dict[str, dict[str, Any]] = {}  # by query id: the answer's parameters
        self._pending_queries: dict[str, _PendingQuery] = {}
        self._query_seq = itertools.count(1)

    def methods(self) -> dict[str, Handler]:
        return {"answerCallbackQuery": self._answer_callback_query}

    def press(self, user: FakeUser, chat: Chat, msg: SentMessage, data: str) -> dict[str, Any]:
        """The CallbackQuery of a press on ``msg``, awaiting its answer from now."""
        query_id = str(4_000_000_000_000 + next(self._query_seq))
        query = {
            "id": query_id,
            "from": user.to_json(),
            "message": chat.message_json(msg),
            "chat_instance": _chat_instance(chat.id),
            "data": data,
        }
        now = self.clock()
        self._pending_queries[query_id] = _PendingQuery(
            now, user.id, chat.id, msg.message_id, data)
        return query

    def _answer_callback_query(self, params: dict[str, Any], files: dict[str, Upload]) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        pending = self._pending_queries.pop(query_id, None)  # a second answer finds none
        now = self.clock()
        if pending is None or now - pending.pressed_at > CALLBACK_ANSWER_SECONDS:
            raise ApiError(400, QUERY_INVALID)
        self.answers[query_id] = {
            **params,
            "time": now,
            "latency": now - pending.pressed_at,
        }
        text = params.get("text")
        if text:
            kind = "alert" if params.get("show_alert") else "toast"
            self.traffic.emit(lambda: f"[{kind} to {pending.user_id}] {text}")
        return True
