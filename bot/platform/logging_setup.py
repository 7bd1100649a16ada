"""English logs that never carry the bot token: human lines, or one JSON object a line."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

# Bot API URLs embed the token: https://api.telegram.org/bot123456:AA.../sendMessage
_TOKEN_RE = re.compile(r"bot\d{3,}:[A-Za-z0-9_-]{20,}|\b\d{6,}:[A-Za-z0-9_-]{30,}\b")

# Libraries that say at INFO what only matters when debugging: request URLs (which hold the
# token), every Alembic step of every command, APScheduler adding each job.
_QUIET = ("httpx", "httpcore", "aiohttp.client", "apscheduler", "alembic.runtime.migration")


def redact(text: str) -> str:
    return _TOKEN_RE.sub("bot<redacted>", text)


class RedactingFormatter(logging.Formatter):
    """Redacts the whole formatted record, tracebacks and exception texts included."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object a line (time, level, logger, message, exception), redacted."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: int = logging.INFO, *, json_lines: bool = False) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if json_lines else RedactingFormatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in _QUIET:
        logging.getLogger(noisy).setLevel(logging.WARNING)
