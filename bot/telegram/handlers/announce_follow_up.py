"""Following an announcement up: /dibaca, /pengumuman, /tarik and the buttons under a report
(XLSX, withdraw). Registered by announce.py. Each handler parses the update, calls the dialog
(bot/announcements/dialog.py) and renders the toast; the answers are in the outbox."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from sqlmodel import Session
from telegram import Update
from telegram.ext import ContextTypes

from bot.announcements import dialog, readers_xlsx, views
from bot.announcements.buttons import FOLLOW_UP
from bot.delivery.callbacks import Buttons, Pressed
from bot.delivery.replies import Asker
from bot.platform.config import Settings
from bot.telegram.handlers.common import answer, asker_of, is_private, real_user_id, toast
from bot.telegram.runtime import Runtime, runtime

Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]


def _command(step: Callable[[Session, Settings, Asker, list[str]], None]) -> Handler:
    """The handler of a follow-up command: its words to the dialog, the answer queued."""
    async def handle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        rt = runtime(context)
        user_id = real_user_id(update)
        if user_id is None:
            return
        asker, args = asker_of(update, user_id, rt.clock.now()), context.args or []
        await answer(rt, lambda s: step(s, rt.settings, asker, args))

    return handle


dibaca = _command(dialog.report)
pengumuman = _command(lambda s, settings, asker, _args: dialog.recent(s, settings, asker))
tarik = _command(dialog.ask_withdraw)


async def pressed(update: Update, buttons: Buttons) -> tuple[int, Pressed] | None:
    """A button of the announcement dialogs (compose too), pressed by a person in their private
    chat: (who, which); anything else is told it is invalid, and None."""
    user_id = real_user_id(update)
    button = buttons.decode(update.callback_query.data)
    if user_id is None or button is None or not is_private(update):
        await toast(update, views.toast("invalid"))
        return None
    return user_id, button


async def on_report_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    rt = runtime(context)
    if (press := await pressed(update, FOLLOW_UP)) is None:
        return
    user_id, button = press
    asker, number = asker_of(update, user_id, rt.clock.now()), button["announcement"]
    if button.shape == "xlsx":
        await _send_xlsx(rt, update, asker, number)
    elif button.shape == "withdraw":
        await toast(update, "")
        await answer(rt, lambda s: dialog.confirm_withdraw(s, rt.settings, asker, number))
    elif button.shape == "withdraw_no":
        await toast(update, views.toast("kept"))
        await answer(rt, lambda s: dialog.close_buttons(s, asker))
    else:
        outcome = await answer(rt, lambda s: dialog.withdraw(s, rt.settings, asker, number))
        await toast(update, views.toast(f"w_{outcome.result.value}"))


async def _send_xlsx(rt: Runtime, update: Update, asker: Asker, number: int) -> None:
    report = await rt.run(lambda s: dialog.readers(s, rt.settings, asker, number))
    if report is None:
        await toast(update, views.toast("not_allowed"))
        return
    await toast(update, views.toast("xlsx"))
    payload = await asyncio.to_thread(readers_xlsx.document, report)  # CPU work, off the loop
    await answer(rt, lambda s: dialog.send_document(s, asker, payload))
