"""Live counters on posts already in a group ("12 dari 30 ..."), edited at most once per interval.

Used by the apel briefings and the announcements, for any post record that has `id`,
`chat_id`, `outbox_id`, `tally_shown` and `tally_edited_at`: skip posts that failed or are
unchanged, defer those not yet delivered or edited too recently; queue one edit per post
through the outbox (it waits for the post's message id via `ref_outbox_id`), keyed by the
count so a repeated pass queues nothing new.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlmodel import Session, col, select

from bot.delivery import outbox
from bot.delivery.models import OutboxMessage


class TalliedPost(Protocol):
    id: int | None
    chat_id: int
    outbox_id: int | None
    tally_shown: int
    tally_edited_at: datetime | None


@dataclass(frozen=True)
class TallyPass:
    queued: int = 0
    deferred: int = 0  # changed, but not delivered yet or edited too recently: look again later


def refresh_posts(
    session: Session,
    posts: Iterable[tuple[Any, str]],
    count_of: Callable[[Any], int],
    edit_of: Callable[[Any, int], tuple[str, dict]],
    *,
    key_prefix: str,
    now: datetime,
    min_interval_s: float,
    base_of: Callable[[Any], int] | None = None,
) -> TallyPass:
    """`posts`: (post, state of its outbox row). `edit_of(post, count)` -> (method, payload).
    `base_of`: the "dari N" of a post whose base can change (leave recorded while the apel is
    open); such a post keeps what it shows in `tally_base` too."""
    deferred = 0
    edits: list[OutboxMessage] = []
    for post, state in posts:
        if state == "failed":
            continue  # never delivered: nothing to edit, ever
        count = count_of(post)
        base = base_of(post) if base_of is not None else None
        if count == post.tally_shown and (base is None or base == post.tally_base
                                          or post.tally_edited_at is None):
            continue  # unchanged (a post never edited shows no tally line yet)
        if state != "sent":
            deferred += 1  # still on its way: edit once it has a message id
            continue
        if post.tally_edited_at and (now - post.tally_edited_at).total_seconds() < min_interval_s:
            deferred += 1
            continue
        method, payload = edit_of(post, count)
        shown = f"{count}" if base is None else f"{count}:{base}"
        edits.append(OutboxMessage(
            key=f"{key_prefix}:{post.id}:{shown}", chat_id=post.chat_id, method=method,
            payload={**payload, "ref_outbox_id": post.outbox_id}, priority=outbox.PRIORITY_TALLY,
            next_attempt_at=now, created_at=now))
        post.tally_shown, post.tally_edited_at = count, now
        if base is not None:
            post.tally_base = base
        session.add(post)
    queued = enqueue_all(session, edits)
    return TallyPass(queued, deferred)


def enqueue_all(session: Session, rows: list[OutboxMessage], chunk: int = 500) -> int:
    """outbox.enqueue for many rows at once: the same idempotency by key, but one look-up per
    chunk and one flush (a batched INSERT) instead of a round trip or three per row. Rows whose
    key exists are left out (and get no id). Returns the number of rows added. Each row stays
    one message: a text over Telegram's limit is clipped (outbox.clipped), never split."""
    for row in rows:
        row.payload = outbox.clipped(row.method, row.payload)
    added = 0
    for start in range(0, len(rows), chunk):
        part = rows[start:start + chunk]
        taken = set(session.exec(select(OutboxMessage.key).where(
            col(OutboxMessage.key).in_([r.key for r in part]))).all())
        fresh = {r.key: r for r in part if r.key not in taken}
        session.add_all(fresh.values())
        added += len(fresh)
    session.flush()
    return added
