"""English logs that never carry the bot token."""

from __future__ import annotations

import logging
import re

# Bot API URLs embed the token: https://api.telegram.org/bot123456:AA.../sendMessage
_TOKEN_RE = re.compile(r"bot\d{3,}:[A-Za-z0-9_-]{20,}|\b\d{6,}:[A-Za-z0-9_-]{30,}\b")


def redact(text: str) -> str:
    return _TOKEN_RE.sub("bot<redacted>", text)


class RedactingFormatter(logging.Formatter):
    """Redacts the whole formatted record, tracebacks and exception texts included."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def setup_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # HTTP client libraries log request URLs (which hold the token) at INFO/DEBUG.
    for noisy in ("httpx", "httpcore", "aiohttp.client", "apscheduler.executors.default"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
