"""What users do, each turned into the update Telegram sends the bot: write a text or a
/command, press an inline button, send a file or a photo, add the bot to a group or remove it
(or block it)."""

from __future__ import annotations

import time
from typing import Any

from fake_telegram.callbacks import CallbackQueries
from fake_telegram.chats import BOT_USER, Chat, Chats, member_json
from fake_telegram.files import FileStore
from fake_telegram.text import command_entities
from fake_telegram.traffic import Traffic
from fake_telegram.updates import Updates


class UserActions:
    def __init__(self, chats: Chats, files: FileStore, updates: Updates,
                 callbacks: CallbackQueries, traffic: Traffic) -> None:
        self.chats, self.files, self.updates = chats, files, updates
        self.callbacks, self.traffic = callbacks, traffic

    def send_text(self, user_id: int, chat_id: int, text: str) -> dict[str, Any]:
        user, chat = self.chats.sender(user_id, chat_id)
        content: dict[str, Any] = {"text": text}
        entities = command_entities(text)
        if entities:
            content["entities"] = entities
        self.traffic.emit(lambda: f"[{chat.label}] {user.full_name} › {text}")
        return self.updates.enqueue({"message": self.chats.user_message(user, chat, content)})

    def press(self, user_id: int, chat_id: int, message_id: int, data: str) -> str:
        user, chat = self.chats.sender(user_id, chat_id)
        msg = chat.bot_messages.get(message_id)
        if msg is None or msg.deleted:
            raise KeyError(f"no live bot message #{message_id} in chat {chat_id}")
        query = self.callbacks.press(user, chat, msg, data)
        self.traffic.emit(lambda: f"[{chat.label}] {user.full_name} pressed #{message_id}: {data}")
        self.updates.enqueue({"callback_query": query})
        return query["id"]

    def send_document(
        self, user_id: int, chat_id: int, filename: str, content: bytes, caption: str | None
    ) -> dict[str, Any]:
        stored = self.files.store("document", filename, content)
        return self._send_file(user_id, chat_id, {"document": stored.document_json()}, caption)

    def send_photo(
        self, user_id: int, chat_id: int, filename: str, content: bytes, caption: str | None
    ) -> dict[str, Any]:
        stored = self.files.store("photo", filename, content, "image/jpeg")
        return self._send_file(user_id, chat_id, {"photo": stored.photo_json()}, caption)

    def _send_file(
        self, user_id: int, chat_id: int, content: dict[str, Any], caption: str | None
    ) -> dict[str, Any]:
        user, chat = self.chats.sender(user_id, chat_id)
        if caption is not None:
            content["caption"] = caption
        self.traffic.emit(lambda: f"[{chat.label}] {user.full_name} sent a file {caption or ''}")
        return self.updates.enqueue({"message": self.chats.user_message(user, chat, content)})

    def kick_bot(self, chat_id: int, by_user_id: int | None) -> dict[str, Any] | None:
        chat = self.chats.chat(chat_id)
        chat.kicked = True
        if by_user_id is None:
            return None
        return self.member_change(chat, by_user_id, "member",
                                  "kicked" if chat.is_private else "left")

    def member_change(self, chat: Chat, by_user_id: int, old: str, new: str) -> dict[str, Any]:
        """A ``my_chat_member`` update: ``by_user_id`` changed the bot's status in ``chat``."""
        return self.updates.enqueue(
            {
                "my_chat_member": {
                    "chat": chat.to_json(),
                    "from": self.chats.user(by_user_id).to_json(),
                    "date": int(time.time()),
                    "old_chat_member": member_json(BOT_USER, old),
                    "new_chat_member": member_json(BOT_USER, new),
                }
            }
        )
