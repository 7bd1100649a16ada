"""The Bot API methods that change or remove a message the bot sent: editMessageText,
editMessageCaption, editMessageReplyMarkup and deleteMessage. An edit that changes nothing is
refused as "not modified", as on Telegram."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fake_telegram.chats import Chat, Chats
from fake_telegram.limits import MAX_TEXT_LENGTH, FloodLimits, check_length
from fake_telegram.messages import (
    MessageEdit,
    SentMessage,
    checked_markup,
    describe_message,
    inline_only,
)
from fake_telegram.sending import set_caption
from fake_telegram.text import render_text
from fake_telegram.traffic import Traffic
from fake_telegram.wire import ApiError, Handler, Upload

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


class Editing:
    def __init__(self, chats: Chats, flood: FloodLimits, traffic: Traffic,
                 clock: Callable[[], float]) -> None:
        self.chats, self.flood, self.traffic, self.clock = chats, flood, traffic, clock

    def methods(self) -> dict[str, Handler]:
        return {
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
        }

    @staticmethod
    def _editable_message(chat: Chat, params: dict[str, Any]) -> SentMessage:
        if params.get("inline_message_id") is not None:
            raise ApiError(400, "Bad Request: inline messages are not supported by the fake")
        message_id = params.get("message_id")
        msg = chat.bot_messages.get(message_id)
        if msg is not None and not msg.deleted:
            return msg
        if message_id in chat.user_messages:
            raise ApiError(400, "Bad Request: message can't be edited")
        raise ApiError(400, "Bad Request: message to edit not found")

    def _edit_message_text(self, params: dict[str, Any], files: dict[str, Upload]) -> dict:
        chat = self.flood.admit("editMessageText", self.chats.target(params))
        msg = self._editable_message(chat, params)
        if msg.text is None:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        plain, entities = render_text(text, params.get("parse_mode"), params.get("entities"))
        check_length(plain, MAX_TEXT_LENGTH, "Bad Request: message is too long")
        markup = inline_only(checked_markup(params.get("reply_markup")))
        old = (msg.text, msg.entities, inline_only(msg.reply_markup))
        if old == (plain, entities, markup):
            raise ApiError(400, NOT_MODIFIED)
        msg.record_edit(self.clock())
        msg.sent_text, msg.text, msg.entities = text, plain, entities
        msg.parse_mode, msg.reply_markup = params.get("parse_mode"), markup
        return self._after_edit(chat, msg)

    def _edit_message_caption(self, params: dict[str, Any], files: dict[str, Upload]) -> dict:
        chat = self.flood.admit("editMessageCaption", self.chats.target(params))
        msg = self._editable_message(chat, params)
        if msg.document is None and msg.photo is None:
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        markup = inline_only(checked_markup(params.get("reply_markup")))
        old = (msg.caption, msg.caption_entities, inline_only(msg.reply_markup))
        previous = MessageEdit(self.clock(), msg.text, msg.caption, msg.reply_markup)
        set_caption(msg, params)
        if old == (msg.caption, msg.caption_entities, markup):
            raise ApiError(400, NOT_MODIFIED)
        msg.edits.append(previous)
        msg.edit_date = int(time.time())
        msg.reply_markup = markup
        return self._after_edit(chat, msg)

    def _edit_message_reply_markup(self, params: dict[str, Any], files: dict[str, Upload]) -> dict:
        chat = self.flood.admit("editMessageReplyMarkup", self.chats.target(params))
        msg = self._editable_message(chat, params)
        markup = inline_only(checked_markup(params.get("reply_markup")))
        if markup == inline_only(msg.reply_markup):
            raise ApiError(400, NOT_MODIFIED)
        msg.record_edit(self.clock())
        msg.reply_markup = markup
        return self._after_edit(chat, msg)

    def _after_edit(self, chat: Chat, msg: SentMessage) -> dict[str, Any]:
        self.traffic.edit_count += 1
        self.traffic.per_chat[chat.id]["edited"] += 1
        self.traffic.emit(lambda: f"[edit] {describe_message(chat, msg)}")
        return chat.message_json(msg)

    def _delete_message(self, params: dict[str, Any], files: dict[str, Upload]) -> bool:
        chat = self.chats.target(params)
        message_id = params.get("message_id")
        msg = chat.bot_messages.get(message_id)
        if msg is not None and not msg.deleted:
            msg.deleted = True
            self.traffic.per_chat[chat.id]["deleted"] += 1
            self.traffic.emit(lambda: f"[delete] [{chat.label}] #{message_id}")
            return True
        if chat.user_messages.pop(message_id, None) is not None:
            return True
        raise ApiError(400, "Bad Request: message to delete not found")
