"""Signing tree heads: `sign_checkpoint` after each apel closes and at least daily.

The returned Checkpoint's `note` is the text to post to the Kalapas chat (and to keep
anywhere outside this database): whoever holds a copy can later prove the log was not
rewritten behind it.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from bot.audit.canonical import format_at, parse_at
from bot.audit.chain import AuditChainBroken, append, lock_head
from bot.audit.keys import SigningKey
from bot.audit.kinds import CHECKPOINT_SIGNED
from bot.audit.merkle import Frontier
from bot.audit.models import AuditEntry, Checkpoint
from bot.audit.note import CheckpointBody, NoteError, parse_checkpoint_body, parse_note, sign_note

log = logging.getLogger(__name__)
_ENTRY = AuditEntry.__table__
_CP = Checkpoint.__table__


def _cached_frontier(session: Session, size: int) -> Frontier:
    """The frontier stored with the newest checkpoint, if it still folds to its signed root."""
    row = session.execute(
        select(_CP.c.tree_size, _CP.c.frontier, _CP.c.note).where(_CP.c.tree_size <= size)
        .order_by(_CP.c.tree_size.desc(), _CP.c.id.desc()).limit(1)
    ).first()
    if row is None:
        return Frontier()
    try:
        signed_root = parse_checkpoint_body(parse_note(row.note)[0]).root
        cached = Frontier(int(row.tree_size),
                          [bytes.fromhex(h) for h in row.frontier.split(",") if h])
    except (NoteError, ValueError):
        cached = None
    if cached is None or cached.root() != signed_root:
        log.warning("audit: cached frontier of checkpoint size %s is invalid; rehashing the log",
                    row.tree_size)
        return Frontier()
    return cached


def tree_frontier(session: Session, size: int) -> Frontier:
    frontier = _cached_frontier(session, size)
    rows = session.execute(
        select(_ENTRY.c.leaf_hash).where(_ENTRY.c.seq > frontier.size, _ENTRY.c.seq <= size)
        .order_by(_ENTRY.c.seq).execution_options(yield_per=10_000)
    )
    for (h,) in rows:
        frontier.append(bytes.fromhex(h))
    if frontier.size != size:
        raise AuditChainBroken(
            f"audit chain head says {size} entries but only {frontier.size} are stored; "
            "entries were deleted: run `apel-bot verify`"
        )
    return frontier


def sign_checkpoint(session: Session, *, at: datetime, key: SigningKey) -> Checkpoint:
    """Sign the current tree head in the caller's transaction and record it in the chain.

    The chain head stays locked from reading the size to recording `checkpoint.signed`
    (which becomes entry tree_size + 1), so the checkpoint covers exactly entries 1..size.
    """
    size, _, last_at = lock_head(session)
    when = parse_at(max(format_at(at), last_at))
    frontier = tree_frontier(session, size)
    root = frontier.root()
    note = sign_note(CheckpointBody(key.name, size, root).text(), key)
    cp = Checkpoint(tree_size=size, root_hash=root.hex(), key_id=key.verifier.key_id_hex,
                    note=note, created_at=when,
                    frontier=",".join(n.hex() for n in frontier.nodes))
    session.add(cp)
    session.flush()
    append(session, kind=CHECKPOINT_SIGNED, actor="audit", at=when, payload={
        "checkpoint_id": cp.id, "tree_size": size, "root": root.hex(),
        "key_id": key.verifier.key_id_hex})
    return cp
