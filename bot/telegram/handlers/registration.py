"""/daftar <NIP> and the approve/refuse buttons an officer presses."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from bot.delivery import outbox
from bot.org import registration
from bot.platform.texts import render
from bot.telegram.handlers.common import is_private, real_user_id, reply_key, toast
from bot.telegram.runtime import runtime

MENU = [("daftar", "menu_daftar", ("tamu",))]  # only for those not registered yet


async def daftar(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    rt = runtime(context)
    user_id = real_user_id(update)
    if user_id is None:
        return
    chat_id = update.effective_chat.id
    key = reply_key(update)
    if not is_private(update):
        await rt.reply(chat_id, "private_only", key=key)
        return
    if len(context.args or []) != 1:
        await rt.reply(chat_id, "daftar_usage", key=key)
        return
    user = update.effective_user
    outcome = await rt.run(lambda s: registration.claim(
        s, rt.settings, telegram_user_id=user_id, telegram_name=user.full_name,
        nip=context.args[0], now=rt.clock.now()))
    name = outcome.employee.name if outcome.employee else ""
    await rt.reply(chat_id, "registration_reply", key=key, result=outcome.result.value,
                   name=name)


async def decide(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    rt = runtime(context)
    query = update.callback_query
    parsed = registration.parse_registration_callback(query.data)
    user_id = real_user_id(update)
    if parsed is None or user_id is None:
        await toast(update, render("toast_invalid"))
        return
    approve, request_id = parsed
    now = rt.clock.now()
    message = query.message

    def work(session):  # noqa: ANN001
        outcome = registration.decide(session, rt.settings, request_id=request_id,
                                      approver_user_id=user_id, approve=approve, now=now,
                                      by=update.effective_user.full_name)
        if outcome.result in (registration.Decision.APPROVED, registration.Decision.REFUSED) \
                and message is not None and message.text_html:
            # Close the buttons on the officer's copy and say who decided.
            note = render("decision_note", approved=approve, by=outcome.decided_by)
            outbox.enqueue(session, key=f"reg-close:{request_id}:{message.chat.id}",
                           chat_id=message.chat.id, method="editMessageText",
                           payload={"message_id": message.message_id, "parse_mode": "HTML",
                                    "text": message.text_html + "\n" + note},
                           now=now, priority=outbox.PRIORITY_REPLY)
        return outcome

    outcome = await rt.run(work)
    rt.wake_sender()
    name = outcome.employee.name if outcome.employee else ""
    await toast(update, render("toast_decision", result=outcome.result.value, name=name))


def register(app: Application) -> None:
    app.add_handler(CommandHandler("daftar", daftar))
    app.add_handler(CallbackQueryHandler(decide, pattern=registration.BUTTONS.pattern))
