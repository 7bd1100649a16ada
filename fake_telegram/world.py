"""The fake Telegram as a test drives it, HTTP aside: set up chats and users, act as a user,
read back what the bot did, and ask for faults. FakeTelegram (server.py) serves it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from fake_telegram.admin import BotAdmin
from fake_telegram.callbacks import CallbackQueries
from fake_telegram.chats import Chats, FakeUser
from fake_telegram.faults import Drop, Fault, FaultHook, Faults
from fake_telegram.files import FileStore
from fake_telegram.limits import FloodLimits
from fake_telegram.messages import SentMessage, summarize_message
from fake_telegram.traffic import Call, Traffic
from fake_telegram.updates import Updates
from fake_telegram.users import UserActions


class World:
    """Each part of the fake keeps its own state (chats, files, updates, ...); this class
    puts them together behind the methods tests call."""

    def __init__(
        self, enforce_limits: bool = True, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.clock = clock
        self.fault_hook: FaultHook | None = None
        self._traffic = Traffic()
        self._chats = Chats()
        self._files = FileStore()
        self._updates = Updates()
        self._faults = Faults()
        self._flood = FloodLimits(enforce_limits, clock, self._traffic)
        self._callbacks = CallbackQueries(clock, self._traffic)
        self._admin = BotAdmin(self._chats)
        self._users = UserActions(
            self._chats, self._files, self._updates, self._callbacks, self._traffic)
        self.webhook = self._updates.webhook  # its ``failures``: refused pushes, for tests

    # ----------------------------------------------------------------- settings and counters

    @property
    def enforce_limits(self) -> bool:
        return self._flood.enabled

    @enforce_limits.setter
    def enforce_limits(self, enabled: bool) -> None:
        self._flood.enabled = enabled

    @property
    def observer(self) -> Callable[[str], None] | None:
        """Gets one readable line per event (what the bot sent, what users did, 429s)."""
        return self._traffic.observer

    @observer.setter
    def observer(self, observer: Callable[[str], None] | None) -> None:
        self._traffic.observer = observer

    @property
    def requests(self) -> list[Call]:
        return self._traffic.requests

    @property
    def sent_count(self) -> int:
        return self._traffic.sent_count

    @property
    def edit_count(self) -> int:
        return self._traffic.edit_count

    @property
    def count_429(self) -> int:
        return self._traffic.count_429

    @property
    def callback_answers(self) -> dict[str, dict[str, Any]]:
        return self._callbacks.answers

    # ----------------------------------------------------------------- world setup

    def add_group(self, chat_id: int, title: str, added_by: int | None = None) -> None:
        """A group the bot is in; ids starting with -100 are supergroups.

        With ``added_by`` (a user id) someone adds the bot now: a ``my_chat_member`` update
        (left -> member) is emitted, as Telegram does.
        """
        chat = self._chats.add_group(chat_id, title)
        if added_by is not None:
            self._users.member_change(chat, added_by, "left", "member")

    def add_user(
        self, user_id: int, first_name: str, last_name: str = "", username: str | None = None
    ) -> FakeUser:
        """A user; the bot may write to them privately once they started it."""
        return self._chats.add_user(user_id, first_name, last_name, username)

    def user(self, user_id: int) -> FakeUser:
        return self._chats.user(user_id)

    def user_started(self, user_id: int) -> bool:
        user = self._chats.find_user(user_id)
        return bool(user and user.started)

    def kick_bot(self, chat_id: int, by_user_id: int | None = None) -> dict[str, Any] | None:
        """Removes the bot from a group (or the user blocks it); later sends get 403.

        With ``by_user_id`` a ``my_chat_member`` update is emitted, as Telegram does.
        """
        return self._users.kick_bot(chat_id, by_user_id)

    def migrate_group(self, old_id: int, new_id: int) -> None:
        """Upgrades a group to a supergroup; sends to ``old_id`` then fail with ChatMigrated."""
        self._chats.migrate(old_id, new_id)

    def set_member_status(self, chat_id: int, user_id: int, status: str) -> None:
        """What getChatMember answers for this user ("member" unless set)."""
        self._chats.set_member_status(chat_id, user_id, status)

    # ----------------------------------------------------------------- user actions

    def user_start(self, user_id: int) -> dict[str, Any]:
        """The user opens the bot and taps Start: a /start message update."""
        self.user(user_id).started = True
        return self.send_text(user_id, user_id, "/start")

    def send_text(self, user_id: int, chat_id: int, text: str) -> dict[str, Any]:
        """A text message from a user; a leading /command gets a bot_command entity."""
        return self._users.send_text(user_id, chat_id, text)

    def press(self, user_id: int, chat_id: int, message_id: int, data: str) -> str:
        """A tap on an inline button of a bot message; returns the callback query id."""
        return self._users.press(user_id, chat_id, message_id, data)

    def press_button(self, user_id: int, chat_id: int, message_id: int, label: str) -> str:
        """Like press(), finding the callback data by the button's label."""
        data = self.message(chat_id, message_id).button_data(label)
        return self.press(user_id, chat_id, message_id, data)

    def send_document(self, user_id: int, chat_id: int, filename: str, content: bytes,
                      caption: str | None = None) -> dict[str, Any]:
        """A user sends a file; the bot can fetch it with getFile and a download."""
        return self._users.send_document(user_id, chat_id, filename, content, caption)

    def send_photo(self, user_id: int, chat_id: int, filename: str, content: bytes,
                   caption: str | None = None) -> dict[str, Any]:
        """A user sends a photo (a single PhotoSize); downloadable like documents."""
        return self._users.send_photo(user_id, chat_id, filename, content, caption)

    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queues a raw update. An update_id that was already used is redelivered as is
        (Telegram never does that; it exists to test duplicate handling)."""
        return self._updates.push(update)

    # ----------------------------------------------------------------- assertions

    def messages(self, chat_id: int) -> list[SentMessage]:
        """What the bot sent to a chat, in order, deleted ones included (``deleted`` flag)."""
        return self._chats.messages(chat_id)

    def message(self, chat_id: int, message_id: int) -> SentMessage:
        return self._chats.message(chat_id, message_id)

    def last_message(self, chat_id: int) -> SentMessage | None:
        """The newest message the bot sent to a chat that is not deleted."""
        live = [m for m in self.messages(chat_id) if not m.deleted]
        return live[-1] if live else None

    def calls(self, method: str) -> list[Call]:
        return self._traffic.calls(method)

    def commands(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, Any]]:
        """The commands set with setMyCommands for a scope (default scope if None)."""
        return self._admin.commands(scope, language_code)

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        return self._updates.pending

    def stats(self) -> dict[str, Any]:
        return self._traffic.stats()

    def reset_stats(self) -> None:
        """Zeroes the counters (messages, requests and flood windows are kept)."""
        self._traffic.reset()

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
            (m for chat in self._chats for m in chat.bot_messages.values()),
            key=lambda m: m.sent_at,
        )[-last:]
        for msg in recent:
            lines.append(f"  {summarize_message(self._chats.chat(msg.chat_id), msg)}")
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
        self._faults.fail_next(method, Fault(count, status, description, retry_after, chat_id))

    def drop_response_next(self, method: str, count: int = 1, delay: float = 10.0) -> None:
        """The next ``count`` successful calls of ``method`` take effect, but their answers
        are held back ``delay`` seconds, so the client times out ("sent, answer lost")."""
        self._faults.drop_response_next(method, Drop(count, delay))
