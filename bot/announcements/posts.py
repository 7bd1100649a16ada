"""The post in each group: its text (or caption), media and "Sudah dibaca" button, the edits
of it, and the plain-text excerpt that lists and reports show."""

from __future__ import annotations

import html
import re

from bot.announcements.buttons import READ
from bot.announcements.models import Announcement
from bot.delivery import outbox
from bot.platform.texts import render

# Below briefings (their pledge window is minutes long) and below the deadline nudges, above
# only the tally edits: a 2,000-group fan-out takes ~72 s at 28 msg/s, and nothing tied to an
# apel deadline should queue behind it. Replies (0) and reports (2) always go first.
PRIORITY_ANNOUNCEMENT = 7
# Room left for our header, the reading instruction and the tally line.
MAX_TEXT_CHARS = 3500  # Telegram: 4096 per message
MAX_CAPTION_CHARS = 800  # Telegram: 1024 per caption
MEDIA_KINDS = ("photo", "document")


def read_keyboard(announcement_id: int) -> list[list[dict]]:
    data = READ.encode("read", announcement=announcement_id)
    return [[outbox.button(render("announce_button_read"), data)]]


def post_text(text_html: str, tally: tuple[int, int] | None = None) -> str:
    return render("announce_post", body=text_html, tally=tally)


def post_message(text_html: str, media_kind: str | None, media_file_id: str | None,
                 keyboard: list[list[dict]] | None,
                 tally: tuple[int, int] | None = None) -> tuple[str, dict]:
    """(Bot API method, payload) of a post; media go by file_id, so nothing is uploaded again."""
    text = post_text(text_html, tally)
    if media_kind is None:
        return "sendMessage", outbox.html_message(text, keyboard)
    payload: dict = {media_kind: media_file_id, "caption": text, "parse_mode": "HTML"}
    if keyboard is not None:
        payload["reply_markup"] = {"inline_keyboard": keyboard}
    method = "sendPhoto" if media_kind == "photo" else "sendDocument"
    return method, payload


def edit_message(ann: Announcement, text: str, keyboard: list[list[dict]] | None) -> tuple[
        str, dict]:
    markup = {"inline_keyboard": keyboard or []}
    if ann.media_kind is None:
        return "editMessageText", {"text": text, "parse_mode": "HTML", "reply_markup": markup,
                                   "link_preview_options": {"is_disabled": True}}
    return "editMessageCaption", {"caption": text, "parse_mode": "HTML", "reply_markup": markup}


_TAG = re.compile(r"<[^>]*>")


def excerpt(text_html: str, limit: int = 160) -> str:
    """The start of an announcement as plain text, for lists and report headers."""
    plain = " ".join(html.unescape(_TAG.sub("", text_html)).split())
    return plain if len(plain) <= limit else plain[:limit - 1].rstrip() + "…"
