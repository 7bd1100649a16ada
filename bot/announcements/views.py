"""What the announcement dialogs show: keyboards as plain data, the /dibaca report's text, the
"Sudah dibaca" toast."""

from __future__ import annotations

from bot.announcements.buttons import COMPOSE, FOLLOW_UP
from bot.announcements.confirmations import AckOutcome
from bot.announcements.posts import excerpt
from bot.announcements.read_report import ReadReport
from bot.announcements.targets import TargetOption
from bot.delivery import outbox
from bot.platform.texts import render

Keyboard = list[list[dict]]


def _compose(label: str, token: str, shape: str) -> dict:
    return outbox.button(render(label), COMPOSE.encode(shape, token=token))


def cancel_keyboard(token: str) -> Keyboard:
    return [[_compose("announce_button_cancel", token, "cancel")]]


def media_keyboard(token: str) -> Keyboard:
    return [[_compose("announce_button_no_media", token, "no_media"),
             _compose("announce_button_cancel", token, "cancel")]]


def target_keyboard(token: str, options: list[TargetOption]) -> Keyboard:
    rows = [[outbox.button(render("announce_button_target", option=o),
                           COMPOSE.encode("target", token=token, scope=o.scope))]
            for o in options]
    return [*rows, *cancel_keyboard(token)]


def preview_keyboard(token: str) -> Keyboard:
    return [[_compose("announce_button_send", token, "send"),
             _compose("announce_button_cancel", token, "cancel")]]


def minutes(value: float) -> str:
    """3.0 -> "3", 1.5 -> "1,5" (Indonesian decimals)."""
    return f"{value:g}".replace(".", ",")


def report_text(report: ReadReport) -> str:
    """The report in the most detail that fits one message; a report that does not fit even
    per unit (an admin's, nationwide) goes in several (the outbox splits it)."""
    units = report.units
    zone = units[0].unit.timezone if units else "Asia/Jakarta"
    summary = excerpt(report.announcement.text_html)
    for detail in ("names", "groups", "units"):
        text = render("announce_report", report=report, zone=zone, excerpt=summary,
                      detail=detail)
        if outbox.fits_one_message(text):
            break
    return text


def _follow_up(label: str, shape: str, announcement_id: int) -> dict:
    return outbox.button(render(label), FOLLOW_UP.encode(shape, announcement=announcement_id))


def report_keyboard(report: ReadReport) -> Keyboard:
    ann_id = report.announcement.id
    row = [_follow_up("announce_button_xlsx", "xlsx", ann_id)]
    if report.may_withdraw:
        row.append(_follow_up("announce_button_withdraw", "withdraw", ann_id))
    return [row]


def withdraw_keyboard(announcement_id: int) -> Keyboard:
    return [[_follow_up("announce_button_withdraw_yes", "withdraw_yes", announcement_id),
             _follow_up("announce_button_withdraw_no", "withdraw_no", announcement_id)]]


def toast(what: str) -> str:
    """The short answer to a compose or follow-up button: what happened (announce_toast)."""
    return render("announce_toast", what=what)


def ack_toast(outcome: AckOutcome) -> str:
    """The answer to a "Sudah dibaca" press: recorded (at what time, in the presser's zone),
    recorded before, or why not."""
    return render("announce_toast_ack", result=outcome.result.value, name=outcome.name or "",
                  at=outcome.at, zone=outcome.timezone)
