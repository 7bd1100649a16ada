"""The Bot API methods that send a message: sendMessage, sendDocument, sendPhoto (and
sendChatAction, which shows "typing..." and sends nothing)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fake_telegram.chats import Chat, Chats
from fake_telegram.files import FileStore
from fake_telegram.limits import MAX_CAPTION_LENGTH, MAX_TEXT_LENGTH, FloodLimits, check_length
from fake_telegram.messages import SentMessage, checked_markup, describe_message
from fake_telegram.text import render_text
from fake_telegram.traffic import Traffic
from fake_telegram.wire import ApiError, Handler, Upload


def set_caption(msg: SentMessage, params: dict[str, Any]) -> None:
    """The caption a call gives ``msg`` (none if it gives none), as users will see it."""
    caption = params.get("caption")
    if caption is None:
        msg.sent_caption, msg.caption, msg.caption_entities = None, None, []
        return
    plain, entities = render_text(
        str(caption), params.get("parse_mode"), params.get("caption_entities")
    )
    check_length(plain, MAX_CAPTION_LENGTH, "Bad Request: message caption is too long")
    msg.sent_caption, msg.caption, msg.caption_entities = str(caption), plain, entities


class Sending:
    def __init__(self, chats: Chats, files: FileStore, flood: FloodLimits, traffic: Traffic,
                 clock: Callable[[], float]) -> None:
        self.chats, self.files, self.flood = chats, files, flood
        self.traffic, self.clock = traffic, clock

    def methods(self) -> dict[str, Handler]:
        return {
            "sendMessage": self._send_message,
            "sendDocument": lambda params, files: self._send_media(
                "sendDocument", "document", params, files
            ),
            "sendPhoto": lambda params, files: self._send_media(
                "sendPhoto", "photo", params, files
            ),
            "sendChatAction": lambda params, files: bool(self.chats.target(params)),
        }

    def _send_message(self, params: dict[str, Any], files: dict[str, Upload]) -> dict:
        chat = self.flood.admit("sendMessage", self.chats.target(params))
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        plain, entities = render_text(text, params.get("parse_mode"), params.get("entities"))
        if not plain.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        check_length(plain, MAX_TEXT_LENGTH, "Bad Request: message is too long")
        msg = self._new_message(chat, params)
        msg.sent_text, msg.text, msg.entities = text, plain, entities
        return self._deliver(chat, msg)

    def _send_media(
        self, method: str, kind: str, params: dict[str, Any], files: dict[str, Upload]
    ) -> dict:
        chat = self.flood.admit(method, self.chats.target(params))
        stored = self.files.input_file(kind, params, files)
        msg = self._new_message(chat, params)
        set_caption(msg, params)
        if kind == "photo":
            msg.photo = stored
        else:
            msg.document = stored
        return self._deliver(chat, msg)

    def _new_message(self, chat: Chat, params: dict[str, Any]) -> SentMessage:
        markup = checked_markup(params.get("reply_markup"))
        reply_to = self._reply_target(chat, params)
        return SentMessage(
            chat_id=chat.id,
            message_id=self.chats.next_message_id(),
            date=int(time.time()),
            sent_at=self.clock(),
            parse_mode=params.get("parse_mode"),
            reply_markup=markup,
            reply_to_message_id=reply_to,
        )

    @staticmethod
    def _reply_target(chat: Chat, params: dict[str, Any]) -> int | None:
        reply = params.get("reply_parameters")
        if isinstance(reply, dict):
            message_id, allow_missing = (
                reply.get("message_id"),
                reply.get("allow_sending_without_reply", False),
            )
        else:
            message_id = params.get("reply_to_message_id")
            allow_missing = params.get("allow_sending_without_reply", False)
        if message_id is None:
            return None
        if chat.has_message(message_id):
            return int(message_id)
        if allow_missing:
            return None
        raise ApiError(400, "Bad Request: message to be replied not found")

    def _deliver(self, chat: Chat, msg: SentMessage) -> dict[str, Any]:
        chat.bot_messages[msg.message_id] = msg
        self.traffic.sent_count += 1
        self.traffic.per_chat[chat.id]["sent"] += 1
        self.traffic.emit(lambda: describe_message(chat, msg))
        return chat.message_json(msg)
