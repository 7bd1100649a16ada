"""A fake Telegram Bot API server for tests, the in-process demo, manual runs and benchmarks.

Point python-telegram-bot at it::

    async with FakeTelegram() as tg:
        app = (
            Application.builder().token(TOKEN)
            .base_url(tg.base_url).base_file_url(tg.base_file_url)
            .build()
        )

The server speaks the Bot API wire format (form, multipart or JSON parameters in;
``{"ok": ...}`` JSON out), keeps what the bot sent to every chat for assertions, injects user
messages and button presses as updates for long polling, and imitates Telegram's errors,
flood limits and lost answers. A small HTTP control API under ``/_control/`` drives it from
another process, and ``python -m fake_telegram --help`` runs it by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import ipaddress
import itertools
import json
import logging
import mimetypes
import re
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from aiohttp import web

from fake_telegram.control import ControlApi
from fake_telegram.limits import (
    CALLBACK_ANSWER_SECONDS,
    MAX_CAPTION_LENGTH,
    MAX_TEXT_LENGTH,
    MAX_UPLOAD_BYTES,
    RATE_LIMITED_METHODS,
    _RateLimiter,
    check_callback_data,
    check_length,
)
from fake_telegram.text import command_entities, render_text
from fake_telegram.webhook import Webhook, WebhookPusher
from fake_telegram.wire import ApiError, Handler, Upload, error_body, int_param, read_params

log = logging.getLogger(__name__)

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

PHOTO_WIDTH, PHOTO_HEIGHT = 800, 600

INLINE_BUTTON_ACTIONS = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)

_BOT_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")


# --------------------------------------------------------------------------- errors


def _chat_not_found() -> ApiError:
    return ApiError(400, "Bad Request: chat not found")


# --------------------------------------------------------------------------- records


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
class StoredFile:
    """A file known to the server: uploaded by the bot or sent by a user."""

    file_id: str
    file_unique_id: str
    file_path: str
    filename: str
    content: bytes
    mime_type: str

    @property
    def size(self) -> int:
        return len(self.content)

    def file_json(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
            "file_path": self.file_path,
        }

    def document_json(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_name": self.filename,
            "mime_type": self.mime_type,
            "file_size": self.size,
        }

    def photo_json(self) -> list[dict[str, Any]]:
        return [
            {
                "file_id": self.file_id,
                "file_unique_id": self.file_unique_id,
                "width": PHOTO_WIDTH,
                "height": PHOTO_HEIGHT,
                "file_size": self.size,
            }
        ]


@dataclass
class MessageEdit:
    """The state of a message before one edit."""

    time: float
    text: str | None
    caption: str | None
    reply_markup: dict[str, Any] | None


@dataclass
class SentMessage:
    """A message the bot sent, as it currently stands.

    ``text`` and ``caption`` are what a user sees: HTML parsed into plain text plus
    ``entities`` (the same as the ``telegram.Message`` PTB got back); ``sent_text`` and
    ``sent_caption`` are the strings the bot passed, tags included.
    """

    chat_id: int
    message_id: int
    date: int
    sent_at: float
    text: str | None = None
    sent_text: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    caption: str | None = None
    sent_caption: str | None = None
    caption_entities: list[dict[str, Any]] = field(default_factory=list)
    parse_mode: str | None = None
    reply_markup: dict[str, Any] | None = None
    document: StoredFile | None = None
    photo: StoredFile | None = None
    reply_to_message_id: int | None = None
    deleted: bool = False
    edit_date: int | None = None
    edits: list[MessageEdit] = field(default_factory=list)

    def buttons(self) -> list[dict[str, Any]]:
        """The inline keyboard buttons, row by row, flattened."""
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [button for row in rows for button in row]

    def button_data(self, label: str) -> str:
        """The callback data of the button labelled ``label`` (exact, else substring match)."""
        buttons = [b for b in self.buttons() if "callback_data" in b]
        for match in (
            lambda b: b["text"] == label,
            lambda b: label.casefold() in b["text"].casefold(),
        ):
            found = [b for b in buttons if match(b)]
            if found:
                return str(found[0]["callback_data"])
        labels = [b["text"] for b in buttons]
        raise KeyError(f"no button {label!r} on message #{self.message_id}; buttons: {labels}")

    def record_edit(self, now: float) -> None:
        self.edits.append(MessageEdit(now, self.text, self.caption, self.reply_markup))
        self.edit_date = int(time.time())

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly summary (files as name and size) for the control API."""
        return {
            "chat_id": self.chat_id,
            "message_id": self.message_id,
            "date": self.date,
            "text": self.text,
            "sent_text": self.sent_text,
            "caption": self.caption,
            "sent_caption": self.sent_caption,
            "parse_mode": self.parse_mode,
            "reply_markup": self.reply_markup,
            "document": _file_summary(self.document),
            "photo": _file_summary(self.photo),
            "deleted": self.deleted,
            "edits": [edit.text if edit.text is not None else edit.caption for edit in self.edits],
        }


def _file_summary(stored: StoredFile | None) -> dict[str, Any] | None:
    if stored is None:
        return None
    return {"filename": stored.filename, "size": stored.size, "mime_type": stored.mime_type}


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


@dataclass
class _Chat:
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


@dataclass
class _Fault:
    remaining: int
    status: int
    description: str
    retry_after: int | None
    chat_id: int | None

    def body(self) -> dict[str, Any]:
        parameters = {"retry_after": self.retry_after} if self.retry_after is not None else None
        return error_body(self.status, self.description, parameters)


@dataclass
class _Drop:
    remaining: int
    delay: float


@dataclass
class _PendingQuery:
    pressed_at: float
    user_id: int
    chat_id: int
    message_id: int
    data: str


# --------------------------------------------------------------------------- text rendering


def _chat_instance(chat_id: int) -> str:
    return str((chat_id * 2654435761) % (2**63))


# --------------------------------------------------------------------------- request decoding


def _inline_only(markup: dict[str, Any] | None) -> dict[str, Any] | None:
    return markup if markup and "inline_keyboard" in markup else None


def _checked_markup(value: Any) -> dict[str, Any] | None:
    """Validates reply_markup like Telegram does for inline keyboards."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    rows = value.get("inline_keyboard")
    if rows is None:
        return value
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise ApiError(400, "Bad Request: can't parse inline keyboard markup JSON object")
    for button in (button for row in rows for button in row):
        _check_button(button)
    return value


def _check_button(button: Any) -> None:
    if not isinstance(button, dict) or not button.get("text"):
        raise ApiError(400, "Bad Request: can't parse inline keyboard button: Text is empty")
    if not any(key in button for key in INLINE_BUTTON_ACTIONS):
        raise ApiError(
            400,
            "Bad Request: can't parse inline keyboard button: "
            "Text buttons are unallowed in the inline keyboard",
        )
    check_callback_data(button.get("callback_data"))


def _member_json(user: dict[str, Any], status: str) -> dict[str, Any]:
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


MEMBER_STATUSES = frozenset({"creator", "administrator", "member", "left", "kicked"})

FaultHook = Callable[[str, dict[str, Any]], "tuple[int, dict[str, Any]] | None"]


# --------------------------------------------------------------------------- the server


class FakeTelegram:
    """An in-memory Telegram Bot API server on a local port.

    As strict as Telegram: it refuses what Telegram refuses, flood limits included. Pass
    ``enforce_limits=False`` only where a test's subject needs it, with a comment saying why.
    """

    def __init__(
        self, enforce_limits: bool = True, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.enforce_limits = enforce_limits
        self.clock = clock
        self.fault_hook: FaultHook | None = None
        self.observer: Callable[[str], None] | None = None
        self.requests: list[Call] = []
        self.callback_answers: dict[str, dict[str, Any]] = {}
        self.sent_count = 0
        self.edit_count = 0
        self.count_429 = 0
        self._calls_by_method: Counter[str] = Counter()
        self._per_chat: defaultdict[int, Counter[str]] = defaultdict(Counter)
        self._users: dict[int, FakeUser] = {}
        self._chats: dict[int, _Chat] = {}
        self._files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._file_seq = itertools.count(1)
        # One message id sequence for every chat, so no chat holds another's ids and an edit
        # sent to the wrong chat fails as on Telegram (private chats and basic groups share
        # the bot's sequence there; a supergroup's own ids sit among its members' messages).
        self._message_ids = itertools.count(1)
        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._member_status: dict[tuple[int, int], str] = {}
        self._updates: deque[dict[str, Any]] = deque()
        self._replayed_updates: deque[dict[str, Any]] = deque()
        self._next_update_id = 1
        self._update_event = asyncio.Event()
        self._poll_generation = 0
        self._pending_queries: dict[str, _PendingQuery] = {}
        self._query_seq = itertools.count(1)
        self._faults: defaultdict[str, deque[_Fault]] = defaultdict(deque)
        self._drops: defaultdict[str, deque[_Drop]] = defaultdict(deque)
        self._limiter = _RateLimiter()
        self._runner: web.AppRunner | None = None
        self.webhook = WebhookPusher(self._updates, self._update_event, lambda _u: None)
        self._host = "127.0.0.1"
        self._port: int | None = None
        self._closing = False
        self._closed = asyncio.Event()
        self._handlers: dict[str, tuple[str, Handler]] = {
            name.lower(): (name, handler) for name, handler in self._api_methods().items()
        }

    # ----------------------------------------------------------------- lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if self._runner is not None:
            raise RuntimeError("FakeTelegram is already running")
        self._closing = False
        self._closed = asyncio.Event()
        runner = web.AppRunner(self._build_app(), access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        self._runner = runner
        self._host = host
        self._port = int(runner.addresses[0][1])
        log.debug("fake Telegram listening on %s", self.base_url)

    async def stop(self) -> None:
        if self._runner is None:
            return
        self._closing = True
        self._closed.set()
        self._wake_pollers()
        await self.webhook.stop()
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeTelegram is not running; await start() first")
        return self._port

    @property
    def _url_host(self) -> str:
        try:
            unspecified = ipaddress.ip_address(self._host).is_unspecified
        except ValueError:
            unspecified = False
        return "127.0.0.1" if unspecified else self._host

    @property
    def root_url(self) -> str:
        return f"http://{self._url_host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.root_url}/file/bot"

    @property
    def control_url(self) -> str:
        return f"{self.root_url}/_control"

    def _build_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{file_path:.+}", self._handle_file)
        app.router.add_routes(ControlApi(self).routes())
        return app

    # ----------------------------------------------------------------- world setup

    def add_group(self, chat_id: int, title: str, added_by: int | None = None) -> None:
        """A group the bot is in; ids starting with -100 are supergroups.

        With ``added_by`` (a user id) someone adds the bot now: a ``my_chat_member`` update
        (left -> member) is emitted, as Telegram does.
        """
        if chat_id >= 0:
            raise ValueError(f"group ids are negative, got {chat_id}")
        kind = "supergroup" if str(chat_id).startswith("-100") else "group"
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = self._chats[chat_id] = _Chat(chat_id, kind, title=title)
        else:
            chat.title, chat.kicked, chat.migrated_to = title, False, None
        if added_by is not None:
            self._member_change(chat, added_by, "left", "member")

    def _member_change(self, chat: _Chat, by_user_id: int, old: str, new: str) -> dict[str, Any]:
        """A ``my_chat_member`` update: ``by_user_id`` changed the bot's status in ``chat``."""
        return self._enqueue(
            {
                "my_chat_member": {
                    "chat": chat.to_json(),
                    "from": self.user(by_user_id).to_json(),
                    "date": int(time.time()),
                    "old_chat_member": _member_json(BOT_USER, old),
                    "new_chat_member": _member_json(BOT_USER, new),
                }
            }
        )

    def add_user(
        self, user_id: int, first_name: str, last_name: str = "", username: str | None = None
    ) -> FakeUser:
        """A user; the bot may write to them privately once they started it."""
        if user_id <= 0:
            raise ValueError(f"user ids are positive, got {user_id}")
        user = self._users.get(user_id)
        if user is None:
            user = FakeUser(user_id, first_name, last_name, username)
            self._users[user_id] = user
            self._chats[user_id] = _Chat(user_id, "private", user=user)
        else:
            user.first_name, user.last_name, user.username = first_name, last_name, username
        return user

    def user(self, user_id: int) -> FakeUser:
        user = self._users.get(user_id)
        if user is None:
            raise KeyError(f"unknown user {user_id}; call add_user() first")
        return user

    def user_started(self, user_id: int) -> bool:
        user = self._users.get(user_id)
        return bool(user and user.started)

    def user_start(self, user_id: int) -> dict[str, Any]:
        """The user opens the bot and taps Start: a /start message update."""
        self.user(user_id).started = True
        return self.send_text(user_id, user_id, "/start")

    def kick_bot(self, chat_id: int, by_user_id: int | None = None) -> dict[str, Any] | None:
        """Removes the bot from a group (or the user blocks it); later sends get 403.

        With ``by_user_id`` a ``my_chat_member`` update is emitted, as Telegram does.
        """
        chat = self._chat(chat_id)
        chat.kicked = True
        if by_user_id is None:
            return None
        return self._member_change(chat, by_user_id, "member",
                                   "kicked" if chat.is_private else "left")

    def migrate_group(self, old_id: int, new_id: int) -> None:
        """Upgrades a group to a supergroup; sends to ``old_id`` then fail with ChatMigrated."""
        old = self._chat(old_id)
        self.add_group(new_id, old.title or "")
        old.migrated_to = new_id

    def set_member_status(self, chat_id: int, user_id: int, status: str) -> None:
        """What getChatMember answers for this user ("member" unless set)."""
        if status not in MEMBER_STATUSES:
            raise ValueError(f"status must be one of {sorted(MEMBER_STATUSES)}")
        self._member_status[(chat_id, user_id)] = status

    def _chat(self, chat_id: int) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            raise KeyError(f"unknown chat {chat_id}; call add_group() or add_user() first")
        return chat

    # ----------------------------------------------------------------- user actions

    def send_text(self, user_id: int, chat_id: int, text: str) -> dict[str, Any]:
        """A text message from a user; a leading /command gets a bot_command entity."""
        user, chat = self._sender(user_id, chat_id)
        content: dict[str, Any] = {"text": text}
        entities = command_entities(text)
        if entities:
            content["entities"] = entities
        self._emit(lambda: f"[{chat.label}] {user.full_name} › {text}")
        return self._enqueue({"message": self._user_message(user, chat, content)})

    def press(self, user_id: int, chat_id: int, message_id: int, data: str) -> str:
        """A tap on an inline button of a bot message; returns the callback query id."""
        user, chat = self._sender(user_id, chat_id)
        msg = chat.bot_messages.get(message_id)
        if msg is None or msg.deleted:
            raise KeyError(f"no live bot message #{message_id} in chat {chat_id}")
        query_id = str(4_000_000_000_000 + next(self._query_seq))
        query = {
            "id": query_id,
            "from": user.to_json(),
            "message": self._message_json(chat, msg),
            "chat_instance": _chat_instance(chat.id),
            "data": data,
        }
        now = self.clock()
        self._pending_queries[query_id] = _PendingQuery(now, user_id, chat_id, message_id, data)
        self._emit(lambda: f"[{chat.label}] {user.full_name} pressed #{message_id}: {data}")
        self._enqueue({"callback_query": query})
        return query_id

    def press_button(self, user_id: int, chat_id: int, message_id: int, label: str) -> str:
        """Like press(), finding the callback data by the button's label."""
        data = self.message(chat_id, message_id).button_data(label)
        return self.press(user_id, chat_id, message_id, data)

    def send_document(
        self,
        user_id: int,
        chat_id: int,
        filename: str,
        content: bytes,
        caption: str | None = None,
    ) -> dict[str, Any]:
        """A user sends a file; the bot can fetch it with getFile and a download."""
        stored = self._store_file("document", filename, content)
        return self._send_file(user_id, chat_id, {"document": stored.document_json()}, caption)

    def send_photo(
        self,
        user_id: int,
        chat_id: int,
        filename: str,
        content: bytes,
        caption: str | None = None,
    ) -> dict[str, Any]:
        """A user sends a photo (a single PhotoSize); downloadable like documents."""
        stored = self._store_file("photo", filename, content, "image/jpeg")
        return self._send_file(user_id, chat_id, {"photo": stored.photo_json()}, caption)

    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queues a raw update. An update_id that was already used is redelivered as is
        (Telegram never does that; it exists to test duplicate handling)."""
        update = dict(update)
        update_id = update.get("update_id")
        if update_id is None:
            return self._enqueue(update)
        if update_id >= self._next_update_id:
            self._next_update_id = update_id + 1
            self._updates.append(update)
        else:
            self._replayed_updates.append(update)
        self._wake_pollers()
        return update

    def _send_file(
        self, user_id: int, chat_id: int, content: dict[str, Any], caption: str | None
    ) -> dict[str, Any]:
        user, chat = self._sender(user_id, chat_id)
        if caption is not None:
            content["caption"] = caption
        self._emit(lambda: f"[{chat.label}] {user.full_name} sent a file {caption or ''}")
        return self._enqueue({"message": self._user_message(user, chat, content)})

    def _sender(self, user_id: int, chat_id: int) -> tuple[FakeUser, _Chat]:
        user = self.user(user_id)
        chat = self._chat(chat_id)
        if chat.is_private:
            if chat_id != user_id:
                raise ValueError(f"user {user_id} cannot write in the private chat {chat_id}")
            user.started = True
            chat.kicked = False  # writing to a blocked bot unblocks it
        elif chat.kicked or chat.migrated_to is not None:
            raise ValueError(f"the bot no longer receives messages from chat {chat_id}")
        return user, chat

    def _user_message(self, user: FakeUser, chat: _Chat, content: dict[str, Any]) -> dict[str, Any]:
        message_id = next(self._message_ids)
        message = {
            "message_id": message_id,
            "from": user.to_json(),
            "chat": chat.to_json(),
            "date": int(time.time()),
            **content,
        }
        chat.user_messages[message_id] = message
        return message

    def _enqueue(self, payload: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": self._next_update_id, **payload}
        self._next_update_id += 1
        self._updates.append(update)
        self._wake_pollers()
        return update

    def _wake_pollers(self) -> None:
        self._update_event.set()
        self._update_event = asyncio.Event()

    # ----------------------------------------------------------------- assertions

    def messages(self, chat_id: int) -> list[SentMessage]:
        """What the bot sent to a chat, in order, deleted ones included (``deleted`` flag)."""
        chat = self._chats.get(chat_id)
        return list(chat.bot_messages.values()) if chat else []

    def message(self, chat_id: int, message_id: int) -> SentMessage:
        msg = self._chat(chat_id).bot_messages.get(message_id)
        if msg is None:
            raise KeyError(f"the bot sent no message #{message_id} to chat {chat_id}")
        return msg

    def last_message(self, chat_id: int) -> SentMessage | None:
        """The newest message the bot sent to a chat that is not deleted."""
        live = [m for m in self.messages(chat_id) if not m.deleted]
        return live[-1] if live else None

    def calls(self, method: str) -> list[Call]:
        return [call for call in self.requests if call.method.lower() == method.lower()]

    def commands(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, Any]]:
        """The commands set with setMyCommands for a scope (default scope if None)."""
        return list(self._commands.get(_commands_key(scope, language_code), []))

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        return [*self._replayed_updates, *self._updates]

    def stats(self) -> dict[str, Any]:
        return {
            "sent_count": self.sent_count,
            "edit_count": self.edit_count,
            "count_429": self.count_429,
            "calls": dict(self._calls_by_method),
            "per_chat": {str(chat_id): dict(c) for chat_id, c in self._per_chat.items()},
        }

    def reset_stats(self) -> None:
        """Zeroes the counters (messages, requests and flood windows are kept)."""
        self.sent_count = self.edit_count = self.count_429 = 0
        self._calls_by_method.clear()
        self._per_chat.clear()

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,
        interval: float = 0.01,
        what: str | None = None,
    ) -> None:
        """Polls ``predicate`` until it holds; AssertionError with recent traffic on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if loop.time() >= deadline:
                name = what or getattr(predicate, "__name__", repr(predicate))
                raise AssertionError(
                    f"condition {name!r} not met within {timeout}s\n{self.describe()}"
                )
            await asyncio.sleep(interval)

    async def wait_for_message(
        self, chat_id: int, contains: str = "", timeout: float = 5.0
    ) -> SentMessage:
        """Waits until the bot has a live message in the chat whose text/caption contains
        ``contains``; returns the newest such message."""

        def find() -> SentMessage | None:
            for msg in reversed(self.messages(chat_id)):
                body = msg.text if msg.text is not None else (msg.caption or "")
                if not msg.deleted and contains in body:
                    return msg
            return None

        await self.wait_for(
            lambda: find() is not None, timeout, what=f"message in {chat_id} with {contains!r}"
        )
        found = find()
        assert found is not None
        return found

    def describe(self, last: int = 12) -> str:
        """Recent requests and bot messages, for failure messages."""
        lines = ["recent Bot API calls:"]
        for call in self.requests[-last:]:
            detail = "" if call.ok else f" {call.response.get('description')}"
            lines.append(f"  {call.method} chat={call.chat_id} -> {call.status}{detail}")
        lines.append("recent bot messages:")
        recent = sorted(
            (m for chat in self._chats.values() for m in chat.bot_messages.values()),
            key=lambda m: m.sent_at,
        )[-last:]
        for msg in recent:
            lines.append(f"  {_summarize_message(self._chats[msg.chat_id], msg)}")
        return "\n".join(lines)

    # ----------------------------------------------------------------- faults

    def fail_next(
        self,
        method: str,
        count: int = 1,
        status: int = 500,
        description: str = "Internal Server Error",
        retry_after: int | None = None,
        chat_id: int | None = None,
    ) -> None:
        """The next ``count`` calls of ``method`` (to ``chat_id``, if given) fail as told."""
        if count < 1:
            raise ValueError("count must be at least 1")
        fault = _Fault(count, status, description, retry_after, chat_id)
        self._faults[method.lower()].append(fault)

    def drop_response_next(self, method: str, count: int = 1, delay: float = 10.0) -> None:
        """The next ``count`` successful calls of ``method`` take effect, but their answers
        are held back ``delay`` seconds, so the client times out ("sent, answer lost")."""
        if count < 1:
            raise ValueError("count must be at least 1")
        self._drops[method.lower()].append(_Drop(count, delay))

    def _take_fault(self, method: str, chat_id: int | None) -> _Fault | None:
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

    def _take_drop(self, method: str) -> float:
        queue = self._drops.get(method.lower())
        if not queue:
            return 0.0
        drop = queue[0]
        drop.remaining -= 1
        if drop.remaining == 0:
            queue.popleft()
        return drop.delay

    # ----------------------------------------------------------------- HTTP layer

    async def _handle_api(self, request: web.Request) -> web.Response:
        try:
            params, files = await read_params(request)
        except ValueError as exc:
            return web.json_response(error_body(400, f"Bad Request: {exc}"), status=400)
        status, body, delay = await self._execute(request.match_info["method"], params, files)
        if delay:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closed.wait(), delay)
        return web.json_response(body, status=status)

    async def _handle_file(self, request: web.Request) -> web.Response:
        stored = self._files_by_path.get(request.match_info["file_path"])
        if stored is None:
            return web.json_response(error_body(404, "Not Found"), status=404)
        return web.Response(body=stored.content, content_type=stored.mime_type)

    async def _execute(
        self, raw_method: str, params: dict[str, Any], files: dict[str, Upload]
    ) -> tuple[int, dict[str, Any], float]:
        started = self.clock()
        name, handler = self._handlers.get(raw_method.lower(), (raw_method, None))
        chat_id = params.get("chat_id")
        chat_id = chat_id if isinstance(chat_id, int) else None
        status, body = await self._respond(name, handler, params, files, chat_id)
        delay = self._take_drop(name) if status == 200 else 0.0
        self._calls_by_method[name] += 1
        self.requests.append(Call(name, params, chat_id, started, status, body, tuple(files)))
        return status, body, delay

    async def _respond(
        self,
        name: str,
        handler: Handler | None,
        params: dict[str, Any],
        files: dict[str, Upload],
        chat_id: int | None,
    ) -> tuple[int, dict[str, Any]]:
        if self.fault_hook is not None:
            hooked = self.fault_hook(name, params)
            if hooked is not None:
                return hooked
        fault = self._take_fault(name, chat_id)
        if fault is not None:
            if fault.status == 429:
                self.count_429 += 1
            return fault.status, fault.body()
        if handler is None:
            return 404, error_body(404, "Not Found")
        try:
            result = handler(params, files)
            if inspect.isawaitable(result):
                result = await result
        except ApiError as exc:
            return exc.status, exc.body()
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            return 400, error_body(400, f"Bad Request: invalid parameters: {exc}")
        return 200, {"ok": True, "result": result}

    # ----------------------------------------------------------------- API methods

    def _api_methods(self) -> dict[str, Handler]:
        return {
            "getMe": lambda params, files: BOT_ME,
            "logOut": lambda params, files: True,
            "close": lambda params, files: True,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "getUpdates": self._get_updates,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendMessage": self._send_message,
            "sendDocument": lambda params, files: self._send_media(
                "sendDocument", "document", params, files
            ),
            "sendPhoto": lambda params, files: self._send_media(
                "sendPhoto", "photo", params, files
            ),
            "sendChatAction": lambda params, files: bool(self._target_chat(params)),
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "getChat": lambda params, files: self._target_chat(params).full_info(),
            "getChatMember": self._get_chat_member,
            "getFile": self._get_file,
        }

    def _set_webhook(self, params: dict[str, Any], files: dict[str, Upload]) -> bool:
        url = params.get("url") or ""
        if not url:  # Telegram: an empty URL removes the webhook
            self.webhook.clear()
            return True
        if not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise ApiError(400, "Bad Request: bad webhook: HTTPS url must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self._replayed_updates.clear()
        self.webhook.set(Webhook(url, secret, int(params.get("max_connections") or 40)))
        return True

    def _delete_webhook(self, params: dict[str, Any], files: dict[str, Upload]) -> bool:
        self.webhook.clear()
        if params.get("drop_pending_updates"):
            self._updates.clear()
            self._replayed_updates.clear()
        return True

    def _get_webhook_info(self, params: dict[str, Any], files: dict[str, Upload]) -> dict:
        pending = len(self._updates) + len(self._replayed_updates)
        url = self.webhook.hook.url if self.webhook.hook else ""
        return {"url": url, "has_custom_certificate": False, "pending_update_count": pending}

    async def _get_updates(
        self, params: dict[str, Any], files: dict[str, Upload]
    ) -> list[dict[str, Any]]:
        offset = int_param(params, "offset", 0) or 0
        limit = min(max(int_param(params, "limit", 100) or 100, 1), 100)
        timeout = max(0.0, float(params.get("timeout") or 0))
        if self.webhook.hook is not None:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                "use deleteWebhook to delete the webhook first")
        self._confirm_updates(offset)
        self._poll_generation += 1
        generation = self._poll_generation
        self._wake_pollers()  # an older long poll now ends with 409 Conflict, as on Telegram
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if generation != self._poll_generation:
                raise ApiError(409, POLL_CONFLICT)
            batch = self._take_batch(limit)
            remaining = deadline - loop.time()
            if batch or self._closing or remaining <= 0:
                return batch
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._update_event.wait(), remaining)

    def _confirm_updates(self, offset: int) -> None:
        if offset < 0:  # keep only the last -offset updates
            while len(self._updates) > -offset:
                self._updates.popleft()
            return
        while self._updates and self._updates[0]["update_id"] < offset:
            self._updates.popleft()

    def _take_batch(self, limit: int) -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = []
        while self._replayed_updates and len(batch) < limit:
            batch.append(self._replayed_updates.popleft())
        batch.extend(itertools.islice(self._updates, limit - len(batch)))
        return batch

    def _set_my_commands(self, params: dict[str, Any], files: dict[str, Upload]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        for command in commands:
            name = command.get("command", "") if isinstance(command, dict) else ""
            if not _BOT_COMMAND_RE.fullmatch(name):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(command.get("description", "")) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        key = _commands_key(params.get("scope"), params.get("language_code") or "")
        if commands:
            self._commands[key] = commands
        else:
            self._commands.pop(key, None)
        return True

    def _get_my_commands(self, params: dict[str, Any], files: dict[str, Upload]) -> list:
        return self.commands(params.get("scope"), params.get("language_code") or "")

    def _delete_my_commands(self, params: dict[str, Any], files: dict[str, Upload]) -> bool:
        key = _commands_key(params.get("scope"), params.get("language_code") or "")
        self._commands.pop(key, None)
        return True

    def _target_chat(self, params: dict[str, Any]) -> _Chat:
        """The chat a call addresses, failing like Telegram for unreachable chats."""
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        chat = self._chats.get(raw) if isinstance(raw, int) else None
        if chat is None:
            raise _chat_not_found()
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

    def _open_chat(self, method: str, params: dict[str, Any]) -> _Chat:
        """_target_chat() plus the flood limits for message-producing methods."""
        chat = self._target_chat(params)
        if self.enforce_limits and method in RATE_LIMITED_METHODS:
            wait = self._limiter.acquire(chat.id, chat.is_private, self.clock())
            if wait:
                self.count_429 += 1
                self._per_chat[chat.id]["429"] += 1
                self._emit(lambda: f"[429] [{chat.label}] {method}: retry after {wait}")
                raise ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
        return chat

    def _send_message(self, params: dict[str, Any], files: dict[str, Upload]) -> dict:
        chat = self._open_chat("sendMessage", params)
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
        chat = self._open_chat(method, params)
        stored = self._input_file(kind, params, files)
        msg = self._new_message(chat, params)
        self._set_caption(msg, params)
        if kind == "photo":
            msg.photo = stored
        else:
            msg.document = stored
        return self._deliver(chat, msg)

    def _new_message(self, chat: _Chat, params: dict[str, Any]) -> SentMessage:
        markup = _checked_markup(params.get("reply_markup"))
        reply_to = self._reply_target(chat, params)
        return SentMessage(
            chat_id=chat.id,
            message_id=next(self._message_ids),
            date=int(time.time()),
            sent_at=self.clock(),
            parse_mode=params.get("parse_mode"),
            reply_markup=markup,
            reply_to_message_id=reply_to,
        )

    def _reply_target(self, chat: _Chat, params: dict[str, Any]) -> int | None:
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
        if self._message_exists(chat, message_id):
            return int(message_id)
        if allow_missing:
            return None
        raise ApiError(400, "Bad Request: message to be replied not found")

    @staticmethod
    def _message_exists(chat: _Chat, message_id: Any) -> bool:
        msg = chat.bot_messages.get(message_id)
        return (msg is not None and not msg.deleted) or message_id in chat.user_messages

    def _set_caption(self, msg: SentMessage, params: dict[str, Any]) -> None:
        caption = params.get("caption")
        if caption is None:
            msg.sent_caption, msg.caption, msg.caption_entities = None, None, []
            return
        plain, entities = render_text(
            str(caption), params.get("parse_mode"), params.get("caption_entities")
        )
        check_length(plain, MAX_CAPTION_LENGTH, "Bad Request: message caption is too long")
        msg.sent_caption, msg.caption, msg.caption_entities = str(caption), plain, entities

    def _input_file(
        self, kind: str, params: dict[str, Any], files: dict[str, Upload]
    ) -> StoredFile:
        ref = params.get(kind)
        if isinstance(ref, str) and ref.startswith("attach://"):
            upload = files.get(ref.removeprefix("attach://"))
        else:
            upload = files.get(kind)
        if upload is not None:
            if not upload.content:
                raise ApiError(400, "Bad Request: file must be non-empty")
            return self._store_file(kind, upload.filename, upload.content, upload.mime_type)
        if isinstance(ref, str) and ref in self._files:
            return self._files[ref]
        if isinstance(ref, str) and ref.startswith(("http://", "https://")):
            name = PurePosixPath(ref.split("?", 1)[0]).name or "file"
            return self._store_file(kind, name, b"")
        if ref is None:
            raise ApiError(400, f"Bad Request: there is no {kind} in the request")
        raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")

    def _store_file(
        self, kind: str, filename: str, content: bytes, mime_type: str | None = None
    ) -> StoredFile:
        seq = next(self._file_seq)
        prefix, folder = (
            ("AgACAgIAAxkBAAI", "photos")
            if kind == "photo"
            else (
                "BQACAgIAAxkBAAI",
                "documents",
            )
        )
        suffix = PurePosixPath(filename).suffix or (".jpg" if kind == "photo" else "")
        stored = StoredFile(
            file_id=f"{prefix}{seq:08d}",
            file_unique_id=f"AQAD{seq:08d}",
            file_path=f"{folder}/file_{seq}{suffix}",
            filename=filename,
            content=content,
            mime_type=mime_type or mimetypes.guess_type(filename)[0] or "application/octet-stream",
        )
        self._files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def _deliver(self, chat: _Chat, msg: SentMessage) -> dict[str, Any]:
        chat.bot_messages[msg.message_id] = msg
        self.sent_count += 1
        self._per_chat[chat.id]["sent"] += 1
        self._emit(lambda: _describe_message(chat, msg))
        return self._message_json(chat, msg)

    def _message_json(
        self, chat: _Chat, msg: SentMessage, with_reply: bool = True
    ) -> dict[str, Any]:
        """The Message object Telegram would return for a bot message."""
        data: dict[str, Any] = {
            "message_id": msg.message_id,
            "from": BOT_USER,
            "chat": chat.to_json(),
            "date": msg.date,
        }
        if msg.edit_date is not None:
            data["edit_date"] = msg.edit_date
        if with_reply and msg.reply_to_message_id is not None:
            replied = self._reply_json(chat, msg.reply_to_message_id)
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
        markup = _inline_only(msg.reply_markup)
        if markup is not None:
            data["reply_markup"] = markup
        return data

    def _reply_json(self, chat: _Chat, message_id: int) -> dict[str, Any] | None:
        msg = chat.bot_messages.get(message_id)
        if msg is not None and not msg.deleted:
            return self._message_json(chat, msg, with_reply=False)
        return chat.user_messages.get(message_id)

    def _editable_message(self, chat: _Chat, params: dict[str, Any]) -> SentMessage:
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
        chat = self._open_chat("editMessageText", params)
        msg = self._editable_message(chat, params)
        if msg.text is None:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        plain, entities = render_text(text, params.get("parse_mode"), params.get("entities"))
        check_length(plain, MAX_TEXT_LENGTH, "Bad Request: message is too long")
        markup = _inline_only(_checked_markup(params.get("reply_markup")))
        old = (msg.text, msg.entities, _inline_only(msg.reply_markup))
        if old == (plain, entities, markup):
            raise ApiError(400, NOT_MODIFIED)
        msg.record_edit(self.clock())
        msg.sent_text, msg.text, msg.entities = text, plain, entities
        msg.parse_mode, msg.reply_markup = params.get("parse_mode"), markup
        return self._after_edit(chat, msg)

    def _edit_message_caption(self, params: dict[str, Any], files: dict[str, Upload]) -> dict:
        chat = self._open_chat("editMessageCaption", params)
        msg = self._editable_message(chat, params)
        if msg.document is None and msg.photo is None:
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        markup = _inline_only(_checked_markup(params.get("reply_markup")))
        old = (msg.caption, msg.caption_entities, _inline_only(msg.reply_markup))
        previous = MessageEdit(self.clock(), msg.text, msg.caption, msg.reply_markup)
        self._set_caption(msg, params)
        if old == (msg.caption, msg.caption_entities, markup):
            raise ApiError(400, NOT_MODIFIED)
        msg.edits.append(previous)
        msg.edit_date = int(time.time())
        msg.reply_markup = markup
        return self._after_edit(chat, msg)

    def _edit_message_reply_markup(self, params: dict[str, Any], files: dict[str, Upload]) -> dict:
        chat = self._open_chat("editMessageReplyMarkup", params)
        msg = self._editable_message(chat, params)
        markup = _inline_only(_checked_markup(params.get("reply_markup")))
        if markup == _inline_only(msg.reply_markup):
            raise ApiError(400, NOT_MODIFIED)
        msg.record_edit(self.clock())
        msg.reply_markup = markup
        return self._after_edit(chat, msg)

    def _after_edit(self, chat: _Chat, msg: SentMessage) -> dict[str, Any]:
        self.edit_count += 1
        self._per_chat[chat.id]["edited"] += 1
        self._emit(lambda: f"[edit] {_describe_message(chat, msg)}")
        return self._message_json(chat, msg)

    def _delete_message(self, params: dict[str, Any], files: dict[str, Upload]) -> bool:
        chat = self._target_chat(params)
        message_id = params.get("message_id")
        msg = chat.bot_messages.get(message_id)
        if msg is not None and not msg.deleted:
            msg.deleted = True
            self._per_chat[chat.id]["deleted"] += 1
            self._emit(lambda: f"[delete] [{chat.label}] #{message_id}")
            return True
        if chat.user_messages.pop(message_id, None) is not None:
            return True
        raise ApiError(400, "Bad Request: message to delete not found")

    def _answer_callback_query(self, params: dict[str, Any], files: dict[str, Upload]) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        pending = self._pending_queries.pop(query_id, None)  # a second answer finds none
        now = self.clock()
        if pending is None or now - pending.pressed_at > CALLBACK_ANSWER_SECONDS:
            raise ApiError(400, QUERY_INVALID)
        self.callback_answers[query_id] = {
            **params,
            "time": now,
            "latency": now - pending.pressed_at,
        }
        text = params.get("text")
        if text:
            kind = "alert" if params.get("show_alert") else "toast"
            self._emit(lambda: f"[{kind} to {pending.user_id}] {text}")
        return True

    def _get_chat_member(self, params: dict[str, Any], files: dict[str, Upload]) -> dict:
        chat = self._target_chat(params)
        user_id = int_param(params, "user_id")
        if user_id == BOT_ID:
            return _member_json(BOT_USER, "member")
        user = self._users.get(user_id) if user_id is not None else None
        if user is None:
            raise ApiError(400, "Bad Request: user not found")
        status = self._member_status.get((chat.id, user.id), "member")
        return _member_json(user.to_json(), status)

    def _get_file(self, params: dict[str, Any], files: dict[str, Upload]) -> dict:
        stored = self._files.get(str(params.get("file_id", "")))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return stored.file_json()

    def _emit(self, line: Callable[[], str]) -> None:
        if self.observer is not None:
            self.observer(line())


def _commands_key(scope: Any, language_code: str) -> tuple[str, str]:
    return json.dumps(scope or {"type": "default"}, sort_keys=True), language_code


def _summarize_message(chat: _Chat, msg: SentMessage, width: int = 110) -> str:
    """One short line for a bot message (for failure reports)."""
    parts = (part.strip() for part in _describe_message(chat, msg).splitlines())
    line = " ⏎ ".join(part for part in parts if part)
    return line if len(line) <= width else line[: width - 1] + "…"


def _describe_message(chat: _Chat, msg: SentMessage) -> str:
    """One readable line (plus a line per button row) for a bot message."""
    parts = [f"[{chat.label}] #{msg.message_id}"]
    for stored, kind in ((msg.document, "document"), (msg.photo, "photo")):
        if stored is not None:
            parts.append(f"[{kind} {stored.filename}, {stored.size} bytes]")
    body = msg.text if msg.text is not None else msg.caption
    if body:
        parts.append(body)
    if msg.deleted:
        parts.append("(deleted)")
    lines = [" ".join(parts)]
    rows = (_inline_only(msg.reply_markup) or {}).get("inline_keyboard", [])
    for row in rows:
        labels = [f"[{b.get('text')} → {b.get('callback_data', b.get('url', ''))}]" for b in row]
        lines.append("    " + " ".join(labels))
    return "\n".join(lines)
