"""The announcement dialogs over a Session: what a step of /umumkan, a command (/dibaca,
/pengumuman, /tarik) or a button under a report does, and the answers it queues in the outbox,
in one transaction.

The handlers (bot/telegram/handlers/announce*.py) parse the update, keep the draft (compose.py)
under its lock, call one of these and render the result: a toast, the conversation's next
stage. A compose step returns that stage: TEXT, MEDIA or TARGET, None to stay, DONE to end.
"""

from __future__ import annotations

from sqlmodel import Session

from bot.announcements import listing, posts, read_report, sending, targets, views, withdrawal
from bot.announcements.arguments import announcement_number
from bot.announcements.compose import MEDIA, TARGET, TEXT, Draft, Next, Step
from bot.delivery import outbox
from bot.delivery.replies import Asker, say
from bot.org.access import actor_for
from bot.platform.config import Settings
from bot.platform.texts import render

DONE = "done"  # the compose conversation ends


def close_buttons(session: Session, asker: Asker) -> None:
    """Drop the buttons of the message just answered, so it cannot be pressed again."""
    if asker.pressed is None:
        return
    chat_id, message_id = asker.pressed
    outbox.enqueue(session, key=f"an-close:{chat_id}:{message_id}", chat_id=chat_id,
                   method="editMessageReplyMarkup", payload={"message_id": message_id},
                   now=asker.now, priority=outbox.PRIORITY_REPLY)


# --- compose -----------------------------------------------------------------------------------


def _options(session: Session, settings: Settings, asker: Asker) -> list[targets.TargetOption]:
    return targets.target_options(session, actor_for(session, settings, asker.user_id))


def start(session: Session, settings: Settings, asker: Asker, draft: Draft) -> str:
    """/umumkan: a new draft asks for its text, if there is anyone this person may address."""
    if not _options(session, settings, asker):
        say(session, asker, render("announce_refused"))
        return DONE
    say(session, asker, render("announce_ask_text"), views.cancel_keyboard(draft.token))
    return TEXT


def ask_target(session: Session, settings: Settings, asker: Asker, draft: Draft) -> str:
    """The text (and any media) is in: whom to send it to, one button per target."""
    options = _options(session, settings, asker)
    if not options:
        say(session, asker, render("announce_refused"))
        return DONE
    draft.targets_shown()
    say(session, asker, render("announce_ask_target"), views.target_keyboard(draft.token, options))
    return TARGET


def after_message(session: Session, settings: Settings, asker: Asker, draft: Draft | None,
                  step: Step) -> str | None:
    """A text or a media message (compose.typed_text, compose.sent_media): what it asks next."""
    if step.next is Next.EXPIRED:
        say(session, asker, render("announce_hint", stage=draft.stage if draft else ""))
        return DONE if draft is None else None
    if step.next is Next.TOO_LONG:
        say(session, asker, render("announce_too_long", length=step.length, limit=step.limit,
                                   with_media=step.with_media))
        return None
    if step.next is Next.ASK_TARGET:
        return ask_target(session, settings, asker, draft)
    if step.next is Next.ASK_MEDIA:
        say(session, asker, render("announce_ask_media", replaced=step.replaced),
            views.media_keyboard(draft.token))
        return MEDIA
    say(session, asker, render("announce_ask_caption", kind=draft.media_kind),
        views.cancel_keyboard(draft.token))
    return TEXT


def skip_media(session: Session, settings: Settings, asker: Asker, draft: Draft) -> str:
    """"Tanpa lampiran": that question's buttons go, the targets come."""
    close_buttons(session, asker)
    return ask_target(session, settings, asker, draft)


def cancel(session: Session, asker: Asker) -> str:
    """"Batal" or /batal: nothing is sent."""
    close_buttons(session, asker)
    say(session, asker, render("announce_cancelled"))
    return DONE


def preview(session: Session, settings: Settings, asker: Asker, draft: Draft,
            scope: str) -> bool:
    """A target chosen: the post as the groups will see it, then a summary with "Kirim".
    False if this person may not (or no longer) address that target: nothing is queued."""
    option = targets.target_for(session, actor_for(session, settings, asker.user_id), scope)
    if option is None:
        return False
    reach = targets.reach_of(session, option.unit_ids)
    method, payload = posts.post_message(draft.text_html, draft.media_kind, draft.media_file_id,
                                         None)
    outbox.enqueue(session, key=f"an-preview:{asker.update}", chat_id=asker.chat_id,
                   method=method, payload=payload, now=asker.now, priority=outbox.PRIORITY_REPLY)
    say(session, asker, render("announce_preview", option=option, reach=reach),
        views.preview_keyboard(draft.token), key=f"an-summary:{asker.update}")
    close_buttons(session, asker)
    return True


def send(session: Session, settings: Settings, asker: Asker, draft: Draft) -> None:
    """"Kirim": the announcement goes out (once per draft: sending.send), the summary loses its
    buttons, and the sender hears what happened."""
    outcome = sending.send(
        session, settings, sender_user_id=asker.user_id,
        draft_key=f"{asker.user_id}:{draft.token}", text_html=draft.text_html,
        media_kind=draft.media_kind, media_file_id=draft.media_file_id, scope=draft.scope,
        now=asker.now)
    close_buttons(session, asker)
    say(session, asker, render("announce_sent", result=outcome.result.value,
                               announcement=outcome.announcement,
                               remind_after=settings.announcements.remind_after_minutes))


# --- follow-up ---------------------------------------------------------------------------------


def _follow_up(session: Session, settings: Settings, asker: Asker,
               number: int | None) -> read_report.FollowUp:
    return read_report.follow_up(session, settings, telegram_user_id=asker.user_id,
                                 announcement_id=number)


def report(session: Session, settings: Settings, asker: Asker, args: list[str]) -> None:
    """/dibaca [#n]: who read announcement n (or the latest this person may see), with buttons."""
    valid, number = announcement_number(args)
    if not valid:
        say(session, asker, render("announce_dibaca_error", result="usage", number=""))
        return
    found = _follow_up(session, settings, asker, number)
    if found.report is None:
        say(session, asker, render("announce_dibaca_error", result=found.result.value,
                                   number=number or ""))
        return
    say(session, asker, views.report_text(found.report), views.report_keyboard(found.report))


def recent(session: Session, settings: Settings, asker: Asker) -> None:
    """/pengumuman: the latest announcements this person may follow up, with their read rates."""
    items = listing.recent(session, settings, telegram_user_id=asker.user_id)
    if items is None:
        say(session, asker, render("announce_list_refused"))
        return
    say(session, asker, render("announce_list", items=items))


def ask_withdraw(session: Session, settings: Settings, asker: Asker, args: list[str]) -> None:
    """/tarik #n: the question (withdraw_check decides whether it may be asked)."""
    valid, number = announcement_number(args)
    if not valid or number is None:
        say(session, asker, render("announce_withdraw_reply", result="usage", announcement=None))
        return
    confirm_withdraw(session, settings, asker, number)


def confirm_withdraw(session: Session, settings: Settings, asker: Asker, number: int) -> None:
    """"Tarik pengumuman #n?" with its two buttons, or why it cannot be withdrawn."""
    check = withdrawal.withdraw_check(session, settings, announcement_id=number,
                                      telegram_user_id=asker.user_id)
    if check.result is not None:
        say(session, asker, render("announce_withdraw_reply", result=check.result.value,
                                   announcement=check.announcement))
        return
    say(session, asker, render("announce_withdraw_confirm", announcement=check.announcement),
        views.withdraw_keyboard(number))


def withdraw(session: Session, settings: Settings, asker: Asker,
             number: int) -> withdrawal.WithdrawOutcome:
    """"Ya, tarik": the posts come down (withdrawal.withdraw), the question loses its buttons."""
    outcome = withdrawal.withdraw(session, settings, announcement_id=number,
                                  telegram_user_id=asker.user_id, now=asker.now)
    close_buttons(session, asker)
    say(session, asker, render("announce_withdraw_reply", result=outcome.result.value,
                               announcement=outcome.announcement))
    return outcome


def readers(session: Session, settings: Settings, asker: Asker,
            number: int) -> read_report.ReadReport | None:
    """The report behind an "Unduh XLSX" button, if the presser may (still) see it."""
    return _follow_up(session, settings, asker, number).report


def send_document(session: Session, asker: Asker, payload: dict) -> None:
    """The workbook (readers_xlsx.document) to the presser."""
    outbox.enqueue(session, key=f"an-xlsx:{asker.update}", chat_id=asker.chat_id,
                   method="sendDocument", payload=payload, now=asker.now,
                   priority=outbox.PRIORITY_REPLY)
