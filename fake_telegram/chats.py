"""The chats the bot is in and the users it knows: who the bot may write to and who may write
to it, what each chat holds, and how a chat, a member and a bot message look in the Bot API's
JSON."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from fake_telegram.messages import SentMessage, inline_only
from fake_telegram.wire import ApiError

BOT_ID = 999000
BOT_USERNAME = "apel_test_bot"
BOT_FIRST_NAME = "Apel Bot"
BOT_USER: dict[str, Any] = {
    "id": BOT_ID,
    "is_bot": True,
    "first_name": BOT_FIRST_NAME,
    "username": BOT_USERNAME,
}
BOT_ME: dict[str, Any] = {
    **BOT_USER,
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
    "can_connect_to_business": False,
    "has_main_web_app": False,
}

MEMBER_STATUSES = frozenset({"creator", "administrator", "member", "left", "kicked"})


@dataclass
class FakeUser:
    """A Telegram user the tests act as."""

    id: int
    first_name: str
    last_name: str = ""
    username: str | None = None
    started: bool = False
    language_code: str = "id"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        data["language_code"] = self.language_code
        return data


@dataclass
class Chat:
    """A group the bot is in, or a user's private chat with it."""

    id: int
    type: str
    title: str | None = None
    user: FakeUser | None = None
    kicked: bool = False
    migrated_to: int | None = None
    bot_messages: dict[int, SentMessage] = field(default_factory=dict)
    user_messages: dict[int, dict[str, Any]] = field(default_factory=dict)

    @property
    def is_private(self) -> bool:
        return self.type == "private"

    @property
    def label(self) -> str:
        name = self.title if self.title is not None else (self.user.full_name if self.user else "")
        return f"chat {self.id} {name}".rstrip()

    def to_json(self) -> dict[str, Any]:
        if self.user is None:
            return {"id": self.id, "type": self.type, "title": self.title}
        data = self.user.to_json()
        data.pop("is_bot")
        data.pop("language_code")
        return {"id": self.id, "type": "private", **{k: v for k, v in data.items() if k != "id"}}

    def full_info(self) -> dict[str, Any]:
        gifts = ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription")
        return {
            **self.to_json(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {**dict.fromkeys(gifts, True), "gifts_from_channels": True},
        }

    def kicked_description(self) -> str:
        if self.is_private:
            return "Forbidden: bot was blocked by the user"
        return f"Forbidden: bot was kicked from the {self.type} chat"

    def has_message(self, message_id: Any) -> bool:
        """A live bot message or a user's message (what a reply may point at)."""
        msg = self.bot_messages.get(message_id)
        return (msg is not None and not msg.deleted) or message_id in self.user_messages

    def message_json(self, msg: SentMessage, with_reply: bool = True) -> dict[str, Any]:
        """The Message object Telegram would return for a bot message."""
        data: dict[str, Any] = {
            "message_id": msg.message_id,
            "from": BOT_USER,
            "chat": self.to_json(),
            "date": msg.date,
        }
        if msg.edit_date is not None:
            data["edit_date"] = msg.edit_date
        if with_reply and msg.reply_to_message_id is not None:
            replied = self._reply_json(msg.reply_to_message_id)
            if replied is not None:
                data["reply_to_message"] = replied
        if msg.text is not None:
            data["text"] = msg.text
            if msg.entities:
                data["entities"] = msg.entities
        if msg.document is not None:
            data["document"] = msg.document.document_json()
        if msg.photo is not None:
            data["photo"] = msg.photo.photo_json()
        if msg.caption is not None:
            data["caption"] = msg.caption
            if msg.caption_entities:
                data["caption_entities"] = msg.caption_entities
        markup = inline_only(msg.reply_markup)
        if markup is not None:
            data["reply_markup"] = markup
        return data

    def _reply_json(self, message_id: int) -> dict[str, Any] | None:
        msg = self.bot_messages.get(message_id)
        if msg is not None and not msg.deleted:
            return self.message_json(msg, with_reply=False)
        return self.user_messages.get(message_id)


def member_json(user: dict[str, Any], status: str) -> dict[str, Any]:
    member: dict[str, Any] = {"status": status, "user": user}
    if status == "creator":
        member["is_anonymous"] = False
    elif status == "administrator":
        rights = (
            "can_manage_chat can_delete_messages can_manage_video_chats can_restrict_members "
            "can_promote_members can_change_info can_invite_users can_post_stories "
            "can_edit_stories can_delete_stories can_pin_messages"
        ).split()
        member.update(dict.fromkeys(rights, True), can_be_edited=False, is_anonymous=False)
    elif status == "kicked":
        member["until_date"] = 0
    return member


class Chats:
    """Every chat and user, by id. Lookups for tests raise KeyError or ValueError; target()
    refuses a Bot API call as Telegram does."""

    def __init__(self) -> None:
        self._users: dict[int, FakeUser] = {}
        self._chats: dict[int, Chat] = {}
        # One message id sequence for every chat, so no chat holds another's ids and an edit
        # sent to the wrong chat fails as on Telegram (private chats and basic groups share
        # the bot's sequence there; a supergroup's own ids sit among its members' messages).
        self._message_ids = itertools.count(1)
        self._member_status: dict[tuple[int, int], str] = {}

    def __iter__(self) -> Iterator[Chat]:
        return iter(self._chats.values())

    def add_group(self, chat_id: int, title: str) -> Chat:
        if chat_id >= 0:
            raise ValueError(f"group ids are negative, got {chat_id}")
        kind = "supergroup" if str(chat_id).startswith("-100") else "group"
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = self._chats[chat_id] = Chat(chat_id, kind, title=title)
        else:
            chat.title, chat.kicked, chat.migrated_to = title, False, None
        return chat

    def add_user(
        self, user_id: int, first_name: str, last_name: str = "", username: str | None = None
    ) -> FakeUser:
        if user_id <= 0:
            raise ValueError(f"user ids are positive, got {user_id}")
        user = self._users.get(user_id)
        if user is None:
            user = FakeUser(user_id, first_name, last_name, username)
            self._users[user_id] = user
            self._chats[user_id] = Chat(user_id, "private", user=user)
        else:
            user.first_name, user.last_name, user.username = first_name, last_name, username
        return user

    def migrate(self, old_id: int, new_id: int) -> None:
        old = self.chat(old_id)
        self.add_group(new_id, old.title or "")
        old.migrated_to = new_id

    def set_member_status(self, chat_id: int, user_id: int, status: str) -> None:
        if status not in MEMBER_STATUSES:
            raise ValueError(f"status must be one of {sorted(MEMBER_STATUSES)}")
        self._member_status[(chat_id, user_id)] = status

    def member_status(self, chat_id: int, user_id: int) -> str:
        return self._member_status.get((chat_id, user_id), "member")

    def user(self, user_id: int) -> FakeUser:
        user = self._users.get(user_id)
        if user is None:
            raise KeyError(f"unknown user {user_id}; call add_user() first")
        return user

    def find_user(self, user_id: int) -> FakeUser | None:
        return self._users.get(user_id)

    def chat(self, chat_id: int) -> Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            raise KeyError(f"unknown chat {chat_id}; call add_group() or add_user() first")
        return chat

    def messages(self, chat_id: int) -> list[SentMessage]:
        chat = self._chats.get(chat_id)
        return list(chat.bot_messages.values()) if chat else []

    def message(self, chat_id: int, message_id: int) -> SentMessage:
        msg = self.chat(chat_id).bot_messages.get(message_id)
        if msg is None:
            raise KeyError(f"the bot sent no message #{message_id} to chat {chat_id}")
        return msg

    def next_message_id(self) -> int:
        return next(self._message_ids)

    def target(self, params: dict[str, Any]) -> Chat:
        """The chat a call addresses, failing like Telegram for unreachable chats."""
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        chat = self._chats.get(raw) if isinstance(raw, int) else None
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        if chat.migrated_to is not None:
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": chat.migrated_to},
            )
        if chat.kicked:
            raise ApiError(403, chat.kicked_description())
        if chat.is_private and chat.user is not None and not chat.user.started:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        return chat

    def sender(self, user_id: int, chat_id: int) -> tuple[FakeUser, Chat]:
        """The user and the chat of a user's message, if the bot would get it."""
        user = self.user(user_id)
        chat = self.chat(chat_id)
        if chat.is_private:
            if chat_id != user_id:
                raise ValueError(f"user {user_id} cannot write in the private chat {chat_id}")
            user.started = True
            chat.kicked = False  # writing to a blocked bot unblocks it
        elif chat.kicked or chat.migrated_to is not None:
            raise ValueError(f"the bot no longer receives messages from chat {chat_id}")
        return user, chat

    def user_message(self, user: FakeUser, chat: Chat, content: dict[str, Any]) -> dict[str, Any]:
        """A user's message in ``chat``, kept there (replies may point at it)."""
        message_id = self.next_message_id()
        message = {
            "message_id": message_id,
            "from": user.to_json(),
            "chat": chat.to_json(),
            "date": int(time.time()),
            **content,
        }
        chat.user_messages[message_id] = message
        return message
