"""Prometheus metrics of one `apel-bot run` (served on /metrics, see bot/telegram/ops_server.py).

Counters live in this process; gauges that describe the database (outbox depth, oldest due
message) are read from it at scrape time, so they are right whichever process queued the rows.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

MESSAGES_SENT = Counter(
    "apel_messages_sent", "Messages Telegram accepted, by kind (the outbox key's prefix).",
    ["kind"], registry=REGISTRY)
MESSAGES_FAILED = Counter(
    "apel_messages_failed", "Messages given up on (400/403, too many attempts), by kind.",
    ["kind"], registry=REGISTRY)
TELEGRAM_429 = Counter(
    "apel_telegram_429", "429 Too Many Requests answers from Telegram.", registry=REGISTRY)
PRESS_SECONDS = Histogram(
    "apel_press_seconds", "From a pledge press reaching the bot to its toast being answered.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10), registry=REGISTRY)
APEL_OPENED = Counter("apel_apel_opened", "Apel opened (briefings queued).", registry=REGISTRY)
APEL_CLOSED = Counter("apel_apel_closed", "Apel closed (reports queued).", registry=REGISTRY)
PLEDGES_RECORDED = Counter(
    "apel_pledges_recorded", "Pledges recorded (on time and late; repeats not counted).",
    registry=REGISTRY)


def kind_of(outbox_key: str) -> str:
    """'briefing:12:-100…' -> 'briefing': the keys' prefixes are a small, fixed set."""
    return outbox_key.split(":", 1)[0] or "other"
