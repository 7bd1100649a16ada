"""What every benchmark prints beside its figures: how busy the machine is, and how fast.

The load average explains the spread between runs on a shared 2-core VM. The reference time
compares machines and days: the same commit handled 793 presses/s on the VM of 2026-11-29 and
340/s on that of 2026-11-30 (load under 1 both times), so a figure means little without it.
"""

from __future__ import annotations

import hashlib
import json
import os
import time

from telegram import Update

# A pledge press as Telegram sends it: the pressed briefing comes with it.
_PRESS = {"update_id": 1, "callback_query": {
    "id": "4382", "chat_instance": "-6", "data": "p:17",
    "from": {"id": 10_000_001, "is_bot": False, "first_name": "Petugas", "language_code": "id"},
    "message": {"message_id": 77, "date": 1_764_460_800,
                "chat": {"id": -1_001_000_000_001, "type": "supergroup", "title": "Regu A"},
                "from": {"id": 1, "is_bot": True, "first_name": "Apel"},
                "text": "Apel pagi, netralitas ASN. " * 40,
                "entities": [{"type": "bold", "offset": 0, "length": 9}] * 8,
                "reply_markup": {"inline_keyboard": [[{"text": "Saya berikrar",
                                                       "callback_data": "p:17"}]]}}}}


def load_text() -> str:
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def reference_ms(rounds: int = 500) -> float:
    """Best of five: parse `rounds` presses with PTB, encode and digest them, as the bot does
    with each press. Lower is a faster machine; figures scale roughly with it."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(rounds):
            Update.de_json(_PRESS, None)
            hashlib.sha256(json.dumps(_PRESS, sort_keys=True).encode()).hexdigest()
        best = min(best, time.perf_counter() - started)
    return best * 1000


def machine_text() -> str:
    return f"load {load_text()}, reference {reference_ms():.0f} ms"
