"""One gate in front of every handler: the bot serves its own chats and nothing else.

Its own chats are the configured regu, administration, Kalapas and operator chats
(bot/org/chats.py) and people's private chats. An update from any other chat is answered
by no handler; the operator hears of the chat once, and the chat gets one polite line. The gate
also notes that a person's private chat works whenever they write there (not only /start).
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatMemberStatus
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    ChatMemberHandler,
    ContextTypes,
    TypeHandler,
)

from bot.org import chats, registration
from bot.platform.texts import render
from bot.telegram.handlers.common import is_private, real_user_id, toast
from bot.telegram.runtime import runtime

log = logging.getLogger(__name__)

# Ahead of everything, the pledge button's group (-1) included.
GUARD_GROUP = -2
_PRESENT = frozenset({ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR,
                      ChatMemberStatus.OWNER, ChatMemberStatus.RESTRICTED})


class ChatGuard:
    def __init__(self) -> None:
        # Read from the database on a miss only: a burst of presses in the regu groups costs a
        # set lookup each, and a group upgraded to a supergroup is found on its first update.
        self._own: frozenset[int] = frozenset()

    async def _is_own(self, context: ContextTypes.DEFAULT_TYPE, chat_id: int) -> bool:
        if chat_id not in self._own:
            rt = runtime(context)
            self._own = await rt.db.run_read(lambda s: chats.own_chat_ids(s, rt.settings))
        return chat_id in self._own

    async def _refuse(self, context: ContextTypes.DEFAULT_TYPE, chat_id: int,
                      title: str) -> None:
        rt = runtime(context)
        now = rt.clock.now()
        await rt.run(lambda s: chats.note_unknown_chat(s, rt.settings, chat_id=chat_id,
                                                       title=title, now=now))
        rt.wake_sender()

    async def gate(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Let the update through to the handlers, or stop it here."""
        chat = update.effective_chat
        if chat is None:
            raise ApplicationHandlerStop
        if is_private(update):
            await self._note_private_chat(update, context)
            return
        if await self._followed_upgrade(update, context):
            raise ApplicationHandlerStop  # a service message: nothing to answer
        if await self._is_own(context, chat.id):
            return
        await self._refuse(context, chat.id, chat.title or "")
        await toast(update, render("toast_invalid"))  # a button there: no spinner left turning
        raise ApplicationHandlerStop

    async def _followed_upgrade(self, update: Update,
                                context: ContextTypes.DEFAULT_TYPE) -> bool:
        """A group of ours upgraded to a supergroup says so in both chats; the first of the two
        service messages moves it, so its buttons keep working before any send learns of it."""
        message = update.message
        if message is None:
            return False
        if message.migrate_to_chat_id:
            old, new = message.chat.id, message.migrate_to_chat_id
        elif message.migrate_from_chat_id:
            old, new = message.migrate_from_chat_id, message.chat.id
        else:
            return False
        if await self._is_own(context, old):
            rt = runtime(context)
            now = rt.clock.now()
            await rt.run(lambda s: chats.follow_upgrade(s, old, new, now))
            self._own = self._own | {new}
        return True

    async def _note_private_chat(self, update: Update,
                                 context: ContextTypes.DEFAULT_TYPE) -> None:
        user_id = real_user_id(update)
        if user_id is None:
            return
        rt = runtime(context)
        # A read first: nearly always the flag is set already, and a read takes no write lock.
        if await rt.db.run_read(lambda s: registration.private_chat_unconfirmed(s, user_id)):
            await rt.run(lambda s: registration.mark_started(s, user_id))

    async def added(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The bot was added to a group (my_chat_member): fine if it is one of ours."""
        change = update.my_chat_member
        if change is None or is_private(update):
            return
        joined = (change.new_chat_member.status in _PRESENT
                  and change.old_chat_member.status not in _PRESENT)
        if joined and not await self._is_own(context, change.chat.id):
            await self._refuse(context, change.chat.id, change.chat.title or "")
        raise ApplicationHandlerStop  # nothing else has business with a membership change


def install(app: Application) -> None:
    guard = ChatGuard()
    app.add_handler(ChatMemberHandler(guard.added, ChatMemberHandler.MY_CHAT_MEMBER),
                    group=GUARD_GROUP)
    app.add_handler(TypeHandler(Update, guard.gate), group=GUARD_GROUP)
