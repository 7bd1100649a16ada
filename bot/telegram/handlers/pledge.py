"""The "Saya berikrar" button: record the presser's pledge, answer with a toast at once."""

from __future__ import annotations

import logging
import time

from telegram import Update
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    ContextTypes,
)

from bot.apel import pledging
from bot.apel.buttons import PLEDGE, parse_pledge_callback
from bot.platform import metrics
from bot.platform.texts import render
from bot.telegram.handlers.common import real_user_id, toast
from bot.telegram.runtime import runtime
from bot.telegram.updates import CURRENT

log = logging.getLogger(__name__)
# The hot path of a burst: checked before every other handler (group -1), and it stops the
# update there, so thousands of presses don't walk the conversation handlers of group 0.
PLEDGE_GROUP = -1
_Result = pledging.PledgeResult
_NEW_PLEDGE = frozenset({_Result.RECORDED, _Result.RECORDED_LATE, _Result.NOT_EXPECTED})


async def press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    started = time.perf_counter()
    await _press(update, context)
    metrics.PRESS_SECONDS.observe(time.perf_counter() - started)
    raise ApplicationHandlerStop


async def _press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    rt = runtime(context)
    apel_id = parse_pledge_callback(update.callback_query.data)
    user_id = real_user_id(update)
    if apel_id is None or user_id is None:
        await toast(update, render("toast_invalid"))
        return
    chat_id = update.effective_chat.id if update.effective_chat else user_id
    received = CURRENT.get()  # the press as stored when it arrived (a restart may lie between)
    at = received.at if received else rt.clock.now()
    try:
        # Recorded with the presses of the same moment (group commit): pledging.pledge_many.
        outcome = await rt.pledges.submit(pledging.Press(
            apel_id, user_id, chat_id, at, received.inbox_id if received else None))
    except Exception:  # database down, locked too long, anything: say so, never stay silent
        log.exception("pledge of %d for apel %d not recorded", user_id, apel_id)
        await toast(update, render("toast_busy"), alert=True)  # nothing was acknowledged
        return
    if received is not None:
        received.marked = True  # committed with the pledge
    if outcome.result in _NEW_PLEDGE:
        metrics.PLEDGES_RECORDED.inc()
    answered = await toast(update, render(
        "toast_pledge", result=outcome.result.value, name=outcome.employee_name or "",
        at=outcome.pledged_at, zone=outcome.timezone))
    if not answered and outcome.result in _NEW_PLEDGE:
        await _tell_privately(rt, update, outcome)


async def _tell_privately(rt, update: Update, outcome: pledging.PledgeOutcome) -> None:  # noqa: ANN001
    """The toast came too late (the press waited in the inbox across a restart): the person
    learns in the private chat, where it works, that the pledge is recorded."""
    user_id = update.callback_query.from_user.id
    note = await rt.run(lambda s: pledging.unanswered_press_note(s, user_id, outcome))
    if note is not None:
        await rt.reply(user_id, "pledge_note_unanswered",
                       key=f"pledge-note:{update.callback_query.id}", **note)


# What the pledge path reads of the message a button was pressed on (the chat guard included).
_PRESSED_KEPT = ("message_id", "date", "chat", "sender_chat", "message_thread_id")


def slim_press(payload: dict) -> dict:
    """A pledge press without the briefing it was pressed on, before PTB parses it.

    Telegram sends the whole pressed message with every press (text, entities, keyboard), and
    the pledge path reads only its chat: parsing the rest into PTB objects cost 8 % of the bot's
    CPU in a burst of presses (issue 17 profile). Any other update is left whole."""
    query = payload.get("callback_query")
    if not query or not PLEDGE.matches(query.get("data")):
        return payload
    message = query.get("message")
    if not message:
        return payload
    slim = {key: message[key] for key in _PRESSED_KEPT if key in message}
    return {**payload, "callback_query": {**query, "message": slim}}


async def stray_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Any other button data — forged, stale or from an old version — gets a polite refusal."""
    await toast(update, render("toast_invalid"))


def register(app: Application) -> None:
    app.add_handler(CallbackQueryHandler(press, pattern=PLEDGE.pattern), group=PLEDGE_GROUP)


def register_fallbacks(app: Application) -> None:
    app.add_handler(CallbackQueryHandler(stray_button))
