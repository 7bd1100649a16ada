"""Sign audit checkpoints and send copies out of the database (to the Kalapas, the operator).

A copy held outside is what lets an inspector notice a rewritten log; see README "Audit trail".
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from bot.audit.checkpoint import sign_checkpoint
from bot.audit.keys import SigningKey
from bot.audit.models import AuditEntry, Checkpoint
from bot.delivery import outbox
from bot.platform.texts import render

DAILY = timedelta(hours=24)


def publish(session: Session, key: SigningKey, now: datetime, chat_ids: list[int], *,
            daily: bool) -> Checkpoint:
    """Sign the current tree head and queue the signed note to each chat (once per chat)."""
    cp = sign_checkpoint(session, at=now, key=key)
    text = render("checkpoint_note", checkpoint=cp, daily=daily)
    for chat_id in dict.fromkeys(chat_ids):
        outbox.send_message(session, key=f"checkpoint:{cp.id}:{chat_id}", chat_id=chat_id,
                            text=text, now=now, priority=outbox.PRIORITY_RECORD)
    return cp


def daily_due(session: Session, now: datetime) -> bool:
    """True when entries exist and no checkpoint was signed in the last 24 hours."""
    last = session.exec(select(Checkpoint.created_at)
                        .order_by(col(Checkpoint.created_at).desc()).limit(1)).first()
    if last is not None:
        return now - last >= DAILY
    return session.exec(select(AuditEntry.seq).limit(1)).first() is not None
