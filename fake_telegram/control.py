"""The control API under ``/_control/``: what a test or a person in another process does with
the fake server (add users and groups, act as a user, inject faults) and reads from it."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from fake_telegram.server import FakeTelegram

ControlHandler = Callable[[web.Request], Awaitable[Any]]


def _control_endpoint(handler: ControlHandler) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Wraps a control handler: JSON result, or 400 with the error text."""

    async def wrapped(request: web.Request) -> web.Response:
        try:
            result = await handler(request)
        except (KeyError, ValueError, TypeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(result)

    return wrapped


class ControlApi:
    """``/_control/*``: drives a FakeTelegram from another process."""

    def __init__(self, tg: FakeTelegram) -> None:
        self.tg = tg

    def routes(self) -> list[web.RouteDef]:
        posts: dict[str, ControlHandler] = {
            "user": self.user,
            "group": self.group,
            "start": self.start,
            "text": self.text,
            "press": self.press,
            "document": self.document,
            "kick": self.kick,
            "migrate": self.migrate,
            "fail": self.fail,
            "drop": self.drop,
            "limits": self.limits,
            "reset_stats": self.reset_stats,
        }
        gets: dict[str, ControlHandler] = {
            "messages": self.messages,
            "callback_answers": self.callback_answers,
            "stats": self.stats,
            "updates": self.updates,
        }
        return [
            *(web.post(f"/_control/{name}", _control_endpoint(h)) for name, h in posts.items()),
            *(web.get(f"/_control/{name}", _control_endpoint(h)) for name, h in gets.items()),
        ]

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        if not request.body_exists:
            return {}
        try:
            body = await request.json()
        except json.JSONDecodeError as exc:
            raise ValueError(f"invalid JSON body: {exc}") from None
        if not isinstance(body, dict):
            raise ValueError("the JSON body must be an object")
        return body

    async def user(self, request: web.Request) -> dict[str, Any]:
        body = await self._body(request)
        user = self.tg.add_user(
            int(body["id"]), body["first_name"], body.get("last_name", ""), body.get("username")
        )
        if body.get("started"):
            user.started = True
        return user.to_json()

    async def group(self, request: web.Request) -> dict[str, Any]:
        body = await self._body(request)
        added_by = body.get("added_by")
        self.tg.add_group(int(body["id"]), body["title"],
                          int(added_by) if added_by is not None else None)
        return {"ok": True}

    async def start(self, request: web.Request) -> dict[str, Any]:
        body = await self._body(request)
        return self.tg.user_start(int(body["user_id"]))

    async def text(self, request: web.Request) -> dict[str, Any]:
        body = await self._body(request)
        return self.tg.send_text(int(body["user_id"]), int(body["chat_id"]), body["text"])

    async def press(self, request: web.Request) -> dict[str, Any]:
        body = await self._body(request)
        ids = int(body["user_id"]), int(body["chat_id"]), int(body["message_id"])
        if "data" in body:
            query_id = self.tg.press(*ids, str(body["data"]))
        else:
            query_id = self.tg.press_button(*ids, body["label"])
        return {"callback_query_id": query_id}

    async def document(self, request: web.Request) -> dict[str, Any]:
        body = await self._body(request)
        content = base64.b64decode(body.get("content_base64", ""))
        return self.tg.send_document(
            int(body["user_id"]),
            int(body["chat_id"]),
            body["filename"],
            content,
            body.get("caption"),
        )

    async def kick(self, request: web.Request) -> dict[str, Any]:
        body = await self._body(request)
        by = body.get("by_user_id")
        update = self.tg.kick_bot(int(body["chat_id"]), int(by) if by is not None else None)
        return {"ok": True, "update": update}

    async def migrate(self, request: web.Request) -> dict[str, Any]:
        body = await self._body(request)
        self.tg.migrate_group(int(body["old_id"]), int(body["new_id"]))
        return {"ok": True}

    async def fail(self, request: web.Request) -> dict[str, Any]:
        body = await self._body(request)
        allowed = {"method", "count", "status", "description", "retry_after", "chat_id"}
        self.tg.fail_next(**{k: v for k, v in body.items() if k in allowed})
        return {"ok": True}

    async def drop(self, request: web.Request) -> dict[str, Any]:
        body = await self._body(request)
        allowed = {"method", "count", "delay"}
        self.tg.drop_response_next(**{k: v for k, v in body.items() if k in allowed})
        return {"ok": True}

    async def limits(self, request: web.Request) -> dict[str, Any]:
        body = await self._body(request)
        self.tg.enforce_limits = bool(body["enabled"])
        return {"ok": True, "enforce_limits": self.tg.enforce_limits}

    async def reset_stats(self, request: web.Request) -> dict[str, Any]:
        self.tg.reset_stats()
        return {"ok": True}

    async def messages(self, request: web.Request) -> list[dict[str, Any]]:
        chat_id = int(request.query["chat_id"])
        return [msg.as_dict() for msg in self.tg.messages(chat_id)]

    async def callback_answers(self, request: web.Request) -> dict[str, Any]:
        return self.tg.callback_answers

    async def stats(self, request: web.Request) -> dict[str, Any]:
        return self.tg.stats()

    async def updates(self, request: web.Request) -> list[dict[str, Any]]:
        return self.tg.pending_updates
