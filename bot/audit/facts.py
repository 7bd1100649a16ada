"""How an entry states what it does not carry: NIPs, names and free text are bound by their
SHA-256 (entries carry internal ids). The facts about people and leave are written by
bot/org/audit_entries.py and read back by the inspector (bot/inspection/tables.py).
"""

from __future__ import annotations

from hashlib import sha256


def digest(text: str) -> str:
    return sha256(text.encode("utf-8")).hexdigest()
