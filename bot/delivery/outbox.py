"""The one road out: every message to Telegram is a row here, written with the change it reports.

A row holds a Bot API method and its parameters exactly as Telegram takes them (plain JSON), so
the sender needs no per-message code. Rows are idempotent by `key`.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import tuple_, update
from sqlmodel import Session, col, select

from bot.delivery.html_parts import clip_html, split_html, visible_length
from bot.delivery.models import ChatMigration, OutboxMessage

log = logging.getLogger(__name__)

# Lower goes first: a person waiting on a reply beats a fan-out.
PRIORITY_REPLY = 0
PRIORITY_REPORT = 2
PRIORITY_BRIEFING = 4
PRIORITY_NUDGE = 6
PRIORITY_TALLY = 8
PRIORITY_RECORD = 9  # audit checkpoints: they keep for minutes, a briefing's apel does not

MAX_UNCERTAIN_RESENDS = 1

# Telegram's limits, in visible UTF-16 units after HTML parsing (see bot/delivery/html_parts.py).
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
# A send that may not have arrived goes again with "[Kiriman ulang …]" in front: leave it room.
RESEND_ROOM = 120
# Payload key of a later part of a split message: the row of the part before it, which must
# be out first (outbox.due holds the part back until then).
AFTER = "after_outbox_id"


@dataclass(frozen=True)
class Due:
    """What the sender needs of a row, detached from the session."""

    id: int
    key: str
    chat_id: int
    method: str
    payload: dict
    attempts: int
    uncertain: bool
    on_wire: bool = False  # marked 'sending' by this send (mark_sending)

    @property
    def left(self) -> tuple[str, int]:
        """(state, attempts) this send left its row in. Its outcome is written only onto a row
        still so: a leader that froze, lost the lead and woke must not undo what the new leader
        has done with the row since (resent it, or marked it sent)."""
        return ("sending", self.attempts + 1) if self.on_wire else ("pending", self.attempts)


def html_message(text: str, keyboard: list[list[dict]] | None = None) -> dict:
    payload: dict = {"text": text, "parse_mode": "HTML", "link_preview_options": {
        "is_disabled": True}}
    if keyboard is not None:
        payload["reply_markup"] = {"inline_keyboard": keyboard}
    return payload


def button(text: str, callback_data: str) -> dict:
    if len(callback_data.encode()) > 64:
        raise ValueError("callback_data is limited to 64 bytes by Telegram")
    return {"text": text, "callback_data": callback_data}


def document_payload(filename: str, content: bytes, caption: str | None = None) -> dict:
    payload: dict = {"document": {"filename": filename,
                                  "base64": base64.b64encode(content).decode()}}
    if caption:
        payload.update(caption=caption, parse_mode="HTML")
    return payload


def enqueue(
    session: Session,
    *,
    key: str,
    chat_id: int,
    method: str,
    payload: dict,
    now: datetime,
    priority: int = PRIORITY_BRIEFING,
) -> OutboxMessage:
    """Queue a message once: a second call with the same key returns the first row.

    A text too long for one message is queued as parts (keys `key`, `key:2`, …) that go out in
    order; the first part's row is returned. An edit or a caption too long is clipped.
    """
    existing = session.exec(select(OutboxMessage).where(OutboxMessage.key == key)).first()
    if existing is not None:
        return existing
    rows: list[OutboxMessage] = []
    for n, part in enumerate(fitted(method, payload), 1):
        if rows:
            part[AFTER] = rows[-1].id
        row = OutboxMessage(key=key if n == 1 else f"{key}:{n}", chat_id=chat_id, method=method,
                            payload=part, priority=priority, next_attempt_at=now, created_at=now)
        session.add(row)
        session.flush()
        rows.append(row)
    return rows[0]


def fits_one_message(text: str) -> bool:
    """Whether `text` goes out as one message (and may replace one by an edit), not in parts."""
    return visible_length(text) <= TEXT_LIMIT - RESEND_ROOM


def fitted(method: str, payload: dict) -> list[dict]:
    """The payload(s) Telegram will take: a long sendMessage split in parts (buttons under the
    last, the reply to a message on the first); anything else clipped (see `clipped`)."""
    if method != "sendMessage" or "text" not in payload:
        return [clipped(method, payload)]
    if fits_one_message(payload["text"]):
        return [payload]
    texts = split_html(payload["text"], TEXT_LIMIT - RESEND_ROOM)
    parts = [{**payload, "text": text} for text in texts]
    for part in parts[:-1]:
        part.pop("reply_markup", None)
    for part in parts[1:]:
        part.pop("reply_parameters", None)
    return parts


def clipped(method: str, payload: dict) -> dict:
    """`payload` with a text or caption over Telegram's limit cut short ("…"): an edit or a
    caption cannot be split into several messages."""
    sends = method.startswith("send")
    for field, limit in (("text", TEXT_LIMIT), ("caption", CAPTION_LIMIT)):
        value = payload.get(field)
        if not isinstance(value, str):
            continue
        short = clip_html(value, limit - (RESEND_ROOM if sends else 0))
        if short != value:
            log.warning("%s: a %s of %d characters was clipped to Telegram's limit", method,
                        field, len(value))
            return {**payload, field: short}
    return payload


def send_message(session: Session, *, key: str, chat_id: int, text: str, now: datetime,
                 keyboard: list[list[dict]] | None = None,
                 priority: int = PRIORITY_BRIEFING) -> OutboxMessage:
    return enqueue(session, key=key, chat_id=chat_id, method="sendMessage",
                   payload=html_message(text, keyboard), now=now, priority=priority)


def close_copies(session: Session, *, key_prefix: str, note: str, now: datetime,
                 skip_chat_id: int | None = None) -> int:
    """A request sent to several people (rows keyed `<key_prefix><chat>`) was decided: every
    copy but the pressed one (`skip_chat_id`: its handler edits it) loses its buttons and gets
    `note`. The edit waits for the copy's message id (ref_outbox_id). Returns edits queued."""
    copies = session.exec(select(OutboxMessage).where(
        col(OutboxMessage.key).startswith(key_prefix, autoescape=True),
        OutboxMessage.method == "sendMessage", OutboxMessage.state != "failed")).all()
    queued = 0
    for copy in copies:
        if copy.chat_id == skip_chat_id:
            continue
        enqueue(session, key=f"close:{copy.key}", chat_id=copy.chat_id,
                method="editMessageText",
                payload={"text": f"{copy.payload['text']}\n\n{note}", "parse_mode": "HTML",
                         "ref_outbox_id": copy.id},
                now=now, priority=PRIORITY_REPLY)
        queued += 1
    return queued


def due(session: Session, now: datetime, limit: int,
        skip_chats: Iterable[int] = ()) -> list[Due]:
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.state == "pending", OutboxMessage.next_attempt_at <= now)
        .order_by(col(OutboxMessage.priority), col(OutboxMessage.id))
        .limit(limit)
    )
    skip = list(skip_chats)
    if skip:
        query = query.where(col(OutboxMessage.chat_id).not_in(skip))
    rows = list(session.exec(query))
    held = _held_parts(session, rows)
    return [Due(r.id, r.key, r.chat_id, r.method, r.payload, r.attempts, r.uncertain)
            for r in rows if r.id not in held]


def _held_parts(session: Session, rows: list[OutboxMessage]) -> set[int]:
    """Rows to hold back: a later part whose part before is not out yet (in flight, waiting out
    a 429 or a backoff), so parts never overtake each other; and anything else for that chat
    meanwhile, so the parts read as one message. A part before that failed holds nothing."""
    before = {r.id: r.payload[AFTER] for r in rows if AFTER in r.payload}
    if not before:
        return set()
    out = set(session.exec(select(OutboxMessage.id).where(
        col(OutboxMessage.id).in_(set(before.values())),
        col(OutboxMessage.state).in_(("sent", "failed")))).all())
    waiting = {row_id for row_id, earlier in before.items() if earlier not in out}
    chats = {r.chat_id for r in rows if r.id in waiting}
    earlier_parts = set(before.values())
    return waiting | {r.id for r in rows if r.chat_id in chats and r.id not in earlier_parts}


def next_due_at(session: Session) -> datetime | None:
    return session.exec(
        select(OutboxMessage.next_attempt_at)
        .where(OutboxMessage.state == "pending")
        .order_by(col(OutboxMessage.next_attempt_at))
        .limit(1)
    ).first()


def mark_sending(session: Session, message_id: int, seen_attempts: int) -> bool:
    """The row goes on the wire now. False if it is no longer as it was read (`seen_attempts`
    and pending): another send of it has happened meanwhile, so this one must not."""
    result = session.exec(update(OutboxMessage).where(
        col(OutboxMessage.id) == message_id, OutboxMessage.state == "pending",
        OutboxMessage.attempts == seen_attempts,
    ).values(state="sending", attempts=OutboxMessage.attempts + 1))
    return bool(result.rowcount)


def unmark_sending(session: Session, message_id: int, seen_attempts: int) -> bool:
    """Undo mark_sending: the request did not go after all (the leader's fence closed while the
    row was being marked). The row is pending again, as it was read, for whoever leads now."""
    return _still(session, message_id, ("sending", seen_attempts + 1),
                  state="pending", attempts=seen_attempts)


def _still(session: Session, row_id: int, left: tuple[str, int] | None, /,
           **values: object) -> bool:
    """Update the row; with `left` (Due.left), only if it is still in that state after that many
    attempts. False if it is not (another process has taken the row over)."""
    where = [col(OutboxMessage.id) == row_id]
    if left is not None:
        where += [OutboxMessage.state == left[0], OutboxMessage.attempts == left[1]]
    return bool(session.exec(update(OutboxMessage).where(*where).values(**values)).rowcount)


def mark_sent(session: Session, message_id: int, telegram_message_id: int | None,
              now: datetime, *, left: tuple[str, int] | None = None) -> bool:
    return _still(session, message_id, left, state="sent", sent_at=now,
                  message_id=telegram_message_id, last_error=None)


def mark_retry(session: Session, message_id: int, *, error: str, at: datetime,
               uncertain: bool = False, left: tuple[str, int] | None = None) -> bool:
    values: dict = {"state": "pending", "next_attempt_at": at, "last_error": error[:500]}
    if uncertain:
        values["uncertain"] = True
    return _still(session, message_id, left, **values)


def mark_failed(session: Session, message_id: int, *, error: str, now: datetime,
                left: tuple[str, int] | None = None) -> bool:
    return _still(session, message_id, left, state="failed", last_error=error[:500],
                  sent_at=None, next_attempt_at=now)


def move_chat(session: Session, old_chat_id: int, new_chat_id: int) -> int:
    """A group became a supergroup: everything not yet delivered follows it."""
    result = session.exec(
        update(OutboxMessage)
        .where(col(OutboxMessage.chat_id) == old_chat_id,
               col(OutboxMessage.state).in_(("pending", "sending")))
        .values(chat_id=new_chat_id, state="pending")
    )
    return result.rowcount or 0


def chat_moves(session: Session) -> dict[int, int]:
    """Every supergroup upgrade seen so far: {old chat id: new chat id}."""
    return dict(session.exec(select(ChatMigration.old_chat_id, ChatMigration.new_chat_id)).all())


def follow(moves: dict[int, int], chat_id: int) -> int:
    """The chat's id now, through any chain of upgrades (a cycle is cut, never followed)."""
    seen = {chat_id}
    while chat_id in moves and moves[chat_id] not in seen:
        chat_id = moves[chat_id]
        seen.add(chat_id)
    return chat_id


def requeue_to(session: Session, message_id: int, chat_id: int, *,
               left: tuple[str, int] | None = None) -> bool:
    """This row goes again, now, to `chat_id` (its group's new id after an upgrade)."""
    return _still(session, message_id, left, chat_id=chat_id, state="pending")


def recover_in_flight(session: Session, now: datetime,
                      keep: Iterable[tuple[int, int]] = (), *,
                      why: str = "in flight at shutdown or crash") -> int:
    """A row left 'sending' by a crash may or may not have arrived; resend, marked. At start-up,
    and when a leader that lost its session leads on (the rows another leader left meanwhile;
    `keep`: (id, attempts) of the rows this process's own sends still have on the wire)."""
    query = update(OutboxMessage).where(OutboxMessage.state == "sending")
    if keep := list(keep):
        query = query.where(tuple_(OutboxMessage.id, OutboxMessage.attempts).not_in(keep))
    result = session.exec(query.values(state="pending", uncertain=True, next_attempt_at=now,
                                       last_error=why[:500]))
    return result.rowcount or 0


def message_id_of(session: Session, outbox_id: int) -> tuple[str, int | None]:
    row = session.get(OutboxMessage, outbox_id)
    if row is None:
        return ("missing", None)
    return (row.state, row.message_id)


def backoff(attempts: int, *, base: float = 1.0, cap: float = 300.0) -> timedelta:
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))
