"""The bot token never reaches the logs or the operator chat."""

from __future__ import annotations

import io
import logging

from bot.platform.logging_setup import RedactingFormatter, redact, setup_logging

TOKEN = "7234567890:AAHk3xAbCdEfGhIjKlMnOpQrStUvWxYz012"


def test_redact_url_and_bare_token():
    url = f"POST https://api.telegram.org/bot{TOKEN}/sendMessage"
    assert TOKEN not in redact(url)
    assert "sendMessage" in redact(url)
    assert TOKEN not in redact(f"token is {TOKEN}")


def test_messages_args_and_tracebacks_are_redacted():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("request to %s failed", f"https://api.telegram.org/bot{TOKEN}/getMe")
        try:
            raise RuntimeError(f"GET https://api.telegram.org/bot{TOKEN}/getUpdates: 502")
        except RuntimeError:
            logger.exception("network trouble")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "getMe" in text and "getUpdates" in text and "Traceback" in text
    assert TOKEN not in text


def test_http_clients_are_quiet_after_setup():
    setup_logging(logging.INFO)
    for name in ("httpx", "aiohttp.client"):
        assert logging.getLogger(name).getEffectiveLevel() >= logging.WARNING
