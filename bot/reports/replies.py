"""Answering a report request through the outbox: the view (or the pressed message edited),
a refusal, a file."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlmodel import Session

from bot.delivery import outbox
from bot.platform.config import Settings
from bot.platform.texts import render
from bot.reports.scope import Scope, scope_for
from bot.reports.views import View

Build = Callable[[Session, Scope], "View | None"]


def answer(session: Session, settings: Settings, *, user_id: int, chat_id: int, key: str,
           now: datetime, build: Build, pressed: bool = False,
           edit_message_id: int | None = None) -> tuple[Scope, bool]:
    """Check the scope, build the view and queue it, in one transaction. False: refused.

    A refused command is answered in the chat; a refused press is the caller's to toast.
    """
    scope = scope_for(session, settings, user_id)
    view = build(session, scope) if scope.allowed else None
    if view is None:
        if not pressed:
            send_text(session, chat_id=chat_id, template="rekap_refused", key=key, now=now,
                      reason="no_role" if not scope.allowed else "scope")
        return scope, False
    send_view(session, chat_id=chat_id, view=view, key=key, now=now,
              edit_message_id=edit_message_id)
    return scope, True


def send_view(session: Session, *, chat_id: int, view: View, key: str, now: datetime,
              edit_message_id: int | None = None) -> None:
    """Answer with `view`: edit the pressed message when it fits in one, else new messages."""
    if edit_message_id is not None and outbox.fits_one_message(view.text):
        payload = outbox.html_message(view.text, view.keyboard)
        payload["message_id"] = edit_message_id
        outbox.enqueue(session, key=f"{key}:edit", chat_id=chat_id, method="editMessageText",
                       payload=payload, now=now, priority=outbox.PRIORITY_REPLY)
        return
    outbox.send_message(session, key=key, chat_id=chat_id, text=view.text, now=now,
                        keyboard=view.keyboard, priority=outbox.PRIORITY_REPLY)


def send_text(session: Session, *, chat_id: int, template: str, key: str, now: datetime,
              **context: object) -> None:
    send_view(session, chat_id=chat_id, view=View(render(template, **context)), key=key,
              now=now)


def send_file(session: Session, *, chat_id: int, kind: str, filename: str, content: bytes,
              caption: str, key: str, now: datetime) -> None:
    """A document (kind "document") or a photo (kind "photo") through the outbox."""
    payload = outbox.document_payload(filename, content, caption)
    method = "sendDocument"
    if kind == "photo":
        payload["photo"] = payload.pop("document")
        method = "sendPhoto"
    outbox.enqueue(session, key=key, chat_id=chat_id, method=method, payload=payload, now=now,
                   priority=outbox.PRIORITY_REPLY)
