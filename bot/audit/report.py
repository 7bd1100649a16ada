"""What verification found: problems tied to sequence numbers, and the printed summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Problem:
    seq: int | None  # first sequence number concerned; None when none applies
    message: str
    seq_end: int | None = None  # last one, for a range
    # 0: found in the entries themselves; 1: found through checkpoints. Entry findings are
    # listed first: they are exact, while a checkpoint can only bound a range.
    layer: int = 0
    # What kind of problem, and its particulars: the inspector's report words each kind in
    # Indonesian (bot/messages/audit_report.html.j2); `message` is the English line.
    code: str = ""
    data: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def covers(self, seq: int) -> bool:
        if self.seq is None:
            return False
        return self.seq <= seq <= (self.seq_end if self.seq_end is not None else self.seq)

    def line(self) -> str:
        if self.seq is None:
            return self.message
        if self.seq_end is None or self.seq_end == self.seq:
            return f"seq {self.seq}: {self.message}"
        return f"seq {self.seq}-{self.seq_end}: {self.message}"


@dataclass
class Gap:
    """Something a run could not check: a code (the inspector's report words it in
    Indonesian, bot/messages/audit_report.html.j2), the English line, and its numbers."""

    code: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Report:
    source: str
    entries: int = 0  # leaves in the tree
    content_checked: int = 0  # entries whose full contents were re-hashed
    last_seq: int = 0
    checkpoints: int = 0
    outside: int = 0
    rows_reconciled: int = 0  # operative table rows compared with the chain
    keys: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # What this run could not check, in plain words: an OK is only as wide as what it covered.
    unchecked: list[Gap] = field(default_factory=list)
    # Closed apel with their figures recomputed from the chain (recount.ApelFigures), if asked.
    figures: list[Any] = field(default_factory=list)
    units: dict[int, dict[str, str]] = field(default_factory=dict)  # labels, from a bundle

    @property
    def ok(self) -> bool:
        return not self.problems

    def sorted_problems(self) -> list[Problem]:
        return sorted(self.problems,
                      key=lambda p: (p.layer, p.seq is None, p.seq or 0, p.message))

    def text(self) -> str:
        counts = (f"{self.entries} entries (seq 1-{self.last_seq}), {self.content_checked} "
                  f"re-hashed in full, {self.checkpoints} checkpoints, {self.outside} held "
                  f"outside, {self.rows_reconciled} table rows reconciled; signing keys: "
                  f"{', '.join(self.keys) or 'none'}")
        if self.ok:
            lines = [f"OK: {self.source}: {counts}"]
        else:
            lines = [f"FAILED: {self.source}: {len(self.problems)} problem(s); {counts}"]
            lines += ["  " + p.line() for p in self.sorted_problems()]
        lines += [f"not checked: {gap.text}" for gap in self.unchecked]
        return "\n".join(lines)
