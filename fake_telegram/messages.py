"""The messages the bot sent, as they stand: text and caption as users see them, the edits
they went through, their inline keyboard (checked as Telegram checks it), and a readable line
for the console and failure reports."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fake_telegram.files import StoredFile
from fake_telegram.limits import check_callback_data
from fake_telegram.wire import ApiError

if TYPE_CHECKING:
    from fake_telegram.chats import Chat

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


def inline_only(markup: dict[str, Any] | None) -> dict[str, Any] | None:
    """The markup if it is an inline keyboard: the only kind a Message carries back."""
    return markup if markup and "inline_keyboard" in markup else None


def checked_markup(value: Any) -> dict[str, Any] | None:
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


def summarize_message(chat: Chat, msg: SentMessage, width: int = 110) -> str:
    """One short line for a bot message (for failure reports)."""
    parts = (part.strip() for part in describe_message(chat, msg).splitlines())
    line = " ⏎ ".join(part for part in parts if part)
    return line if len(line) <= width else line[: width - 1] + "…"


def describe_message(chat: Chat, msg: SentMessage) -> str:
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
    rows = (inline_only(msg.reply_markup) or {}).get("inline_keyboard", [])
    for row in rows:
        labels = [f"[{b.get('text')} → {b.get('callback_data', b.get('url', ''))}]" for b in row]
        lines.append("    " + " ".join(labels))
    return "\n".join(lines)
