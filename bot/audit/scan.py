"""One streaming pass over the chain: re-hash, links, sequence, time, and the tree roots.

Rows are plain tuples and hashing is hashlib on bytes, no ORM objects: a million entries
take seconds. The tree is built over the leaf hashes in the order found, so a missing or
extra row changes every later root and the signed checkpoints expose it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from hashlib import sha256
from typing import Any

from bot.audit.canonical import AT_PATTERN, GENESIS_PREV, leaf_data
from bot.audit.kinds import CHECKPOINT_SIGNED, KEY_ROTATED
from bot.audit.merkle import EMPTY_ROOT, Frontier
from bot.audit.report import Problem

_SPECIAL = (CHECKPOINT_SIGNED, KEY_ROTATED)


@dataclass(frozen=True)
class ChainEvent:
    """A checkpoint.signed or key.rotated entry, kept to cross-check checkpoints and keys."""

    seq: int
    kind: str
    at: str
    payload: dict[str, Any]


class LeafBuffer(Sequence[bytes]):
    """Leaf hashes packed 32 bytes each: a million cost 32 MB, not 100 MB of objects."""

    def __init__(self, data: bytes | bytearray) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data) // 32

    def __getitem__(self, i):  # noqa: ANN001, ANN204 (Sequence protocol)
        if isinstance(i, slice):
            raise TypeError("LeafBuffer does not slice")
        if not 0 <= i < len(self):
            raise IndexError(i)
        return bytes(self.data[32 * i: 32 * i + 32])


@dataclass
class Scan:
    count: int = 0  # leaves in the tree
    last_seq: int = 0
    content: tuple[int, int] | None = None  # first/last seq whose contents were re-hashed
    content_count: int = 0
    roots: dict[int, bytes] = field(default_factory=dict)
    final_root: bytes = EMPTY_ROOT
    last_leaf: str = GENESIS_PREV
    leaves: Sequence[bytes] | None = None
    events: list[ChainEvent] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def covers(self, seq: int) -> bool:
        return self.content is not None and self.content[0] <= seq <= self.content[1]


def _run_message(code: str, start: int, end: int, at_end: bool) -> str:
    one = start == end
    if code == "hash":
        return ("contents do not match the entry's leaf hash (edited after it was written)" if one
                else "contents do not match their leaf hashes (edited after they were written)")
    if code == "moved:-1":
        if at_end:
            return ("entries were written with seq numbers one lower: an entry was inserted at "
                    f"seq {start - 1} and the rest renumbered")
        return f"written as seq {start - 1}" if one else "written with seq numbers one lower"
    if code == "moved:+1":
        if at_end:
            return ("entries were written with seq numbers one higher: the entry first at "
                    f"seq {start} was deleted and the rest renumbered")
        return f"written as seq {start + 1}" if one else "written with seq numbers one higher"
    if code == "prev":
        return ("prev hash is not the leaf hash of the entry before (entries inserted, removed "
                "or reordered here)")
    if code == "time":
        return "time is earlier than the entry before it (back-dated)"
    return "time is not in the chain's RFC 3339 form"


class _Runs:
    """Consecutive sequence numbers with the same fault become one line, not thousands."""

    def __init__(self) -> None:
        self.runs: dict[str, list[list[int]]] = {}

    def add(self, code: str, seq: int) -> None:
        runs = self.runs.setdefault(code, [])
        if runs and runs[-1][1] == seq - 1:
            runs[-1][1] = seq
        else:
            runs.append([seq, seq])

    def problems(self, last_seq: int) -> list[Problem]:
        out = []
        for code, runs in self.runs.items():
            for start, end in runs:
                at_end = end == last_seq and start > 1
                out.append(Problem(start, _run_message(code, start, end, at_end), end, code=code))
                if code == "moved:-1" and at_end:
                    out.append(Problem(start - 1, "entry inserted after the fact (the entries "
                                                  "after it were renumbered to make room)",
                                       code="inserted"))
        return out


def _diagnose(seq: int, at: str, kind: str, actor: str, payload: str, prev: str,
              leaf: str) -> str:
    """Was the row merely renumbered? Then it hashes correctly under a neighbouring seq."""
    for delta in (-1, 1):
        try:
            data = leaf_data(seq + delta, at, kind, actor, payload, prev)
        except UnicodeEncodeError:
            return "hash"
        if sha256(b"\x00" + data).hexdigest() == leaf:
            return f"moved:{delta:+d}"
    return "hash"


def _event(seq: int, kind: str, at: str, payload: Any, problems: list[Problem]) -> ChainEvent:
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError:
            payload = None
    if not isinstance(payload, dict):
        problems.append(Problem(seq, f"{kind} payload is not a JSON object",
                                code="payload_not_object", data={"kind": kind}))
        payload = {}
    return ChainEvent(seq, kind, at, payload)


def _gap(problems: list[Problem], expected: int, seq: int) -> None:
    if seq > expected:
        n = seq - expected
        problems.append(Problem(expected, f"{n} entr{'y' if n == 1 else 'ies'} missing (deleted)",
                                seq - 1, code="entries_missing", data={"n": n}))
    else:
        problems.append(Problem(seq, "entry out of order or duplicated", code="out_of_order"))


Visit = Callable[[int, str, str, Any], None]  # (seq, kind, actor, payload text or object)


def scan_rows(rows: Iterable[tuple], wanted: set[int], *, keep_leaves: bool,
              visit: Visit | None = None, visit_kinds: frozenset[str] = frozenset()) -> Scan:
    """Database rows (seq, at, kind, actor, payload, prev_hash, leaf_hash) in seq order.

    `visit` is called for every entry whose kind is in `visit_kinds` (ledger.Ledger)."""
    scan = Scan()
    problems, runs, events = scan.problems, _Runs(), scan.events
    frontier = Frontier()
    add_leaf, roots = frontier.append, scan.roots
    buf = bytearray() if keep_leaves else None
    match_at = AT_PATTERN.match
    expected, prev_leaf, prev_at, count, first = 1, GENESIS_PREV, "", 0, None
    for seq, at, kind, actor, payload, prev, leaf in rows:
        if first is None:
            first = seq
        linked = seq == expected
        if not linked:
            _gap(problems, expected, seq)
        try:
            ok = sha256(b"\x00" + leaf_data(seq, at, kind, actor, payload, prev)
                        ).hexdigest() == leaf
        except UnicodeEncodeError:
            ok = False
        if not ok:
            runs.add(_diagnose(seq, at, kind, actor, payload, prev, leaf), seq)
        if linked and prev != prev_leaf:
            runs.add("prev", seq)
        if not match_at(at):
            runs.add("at-format", seq)
        elif at < prev_at:
            runs.add("time", seq)
        if kind in _SPECIAL:
            events.append(_event(seq, kind, at, payload, problems))
        elif visit is not None and kind in visit_kinds:
            visit(seq, kind, actor, payload)
        try:
            h = bytes.fromhex(leaf)
        except ValueError:
            h = b""
        if len(h) != 32:
            h = b"\x00" * 32  # already reported: the stored hash cannot match anything
        add_leaf(h)
        count += 1
        if count in wanted:
            roots[count] = frontier.root()
        if buf is not None:
            buf += h
        prev_leaf, prev_at, expected = leaf, at, seq + 1
    scan.count, scan.last_seq, scan.last_leaf = count, expected - 1, prev_leaf
    scan.content = (first, expected - 1) if first is not None else None
    scan.content_count = count
    scan.final_root = frontier.root()
    scan.leaves = LeafBuffer(buf) if buf is not None else None
    problems.extend(runs.problems(scan.last_seq))
    return scan


def scan_bundle(hashes: bytes, lines: Iterable[bytes], first_seq: int, last_seq: int,
                wanted: set[int], visit: Visit | None = None,
                visit_kinds: frozenset[str] = frozenset()) -> Scan:
    """A bundle: every leaf hash (positional, seq 1 first) and the full entries of a range.

    Each entries line is exactly the leaf data that was hashed, so it is hashed as is.
    """
    scan = Scan()
    problems, runs, events = scan.problems, _Runs(), scan.events
    frontier = Frontier()
    add_leaf = frontier.append
    count = len(hashes) // 32
    for i in range(count):
        add_leaf(hashes[32 * i: 32 * i + 32])
        if i + 1 in wanted:
            scan.roots[i + 1] = frontier.root()
    scan.count = scan.last_seq = count
    scan.final_root = frontier.root()
    scan.leaves = LeafBuffer(hashes)
    scan.last_leaf = hashes[-32:].hex() if count else GENESIS_PREV

    expected, prev_at, seen, last = first_seq, "", 0, None
    for line in lines:
        try:
            obj = json.loads(line)
            seq, at, kind, prev = obj["seq"], obj["at"], obj["kind"], obj["prev"]
            if not isinstance(seq, int) or not isinstance(at, str):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            problems.append(Problem(expected, "entries line is not an audit entry",
                                    code="bundle_line"))
            expected += 1
            continue
        seen += 1
        linked = seq == expected
        if not linked:
            _gap(problems, expected, seq)
        if not 1 <= seq <= count:
            problems.append(Problem(seq, "entry has no leaf hash in the bundle",
                                    code="bundle_no_leaf"))
            continue
        if sha256(b"\x00" + line).digest() != hashes[32 * (seq - 1): 32 * seq]:
            runs.add("hash", seq)
        if prev != (hashes[32 * (seq - 2): 32 * (seq - 1)].hex() if seq > 1 else GENESIS_PREV):
            runs.add("prev", seq)
        if not AT_PATTERN.match(at):
            runs.add("at-format", seq)
        elif at < prev_at:
            runs.add("time", seq)
        if kind in _SPECIAL:
            events.append(_event(seq, kind, at, obj.get("payload"), problems))
        elif visit is not None and kind in visit_kinds:
            visit(seq, kind, str(obj.get("actor")), obj.get("payload"))
        prev_at, expected, last = at, seq + 1, seq
    if expected <= last_seq:
        problems.append(Problem(expected, "entries missing from the bundle (cut off)", last_seq,
                                code="bundle_cut"))
    if seen:
        scan.content = (first_seq, last if last is not None else first_seq)
    scan.content_count = seen
    problems.extend(runs.problems(scan.last_seq))
    return scan
