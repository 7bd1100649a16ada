"""English logs that never carry the bot token."""

from __future__ import annotations

import logging
import re

# Bot API URLs embed the token: https://api.telegram.org/bot123456:AA.../sendMessage
_TOKEN_RE = re.compile(r"bot\d{3,}:[A-Za-z0-9_-]{20,}|\b\d{6,}:[A-Za-z0-9_-]{30,}\b")


def redact(text: str) -> str:
    return _TOKEN_RE.sub("bot<redacted>", text)


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def setup_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactTokens())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL (which holds the token) at INFO: keep it at WARNING.
    for noisy in ("httpx", "httpcore", "apscheduler.executors.default"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
