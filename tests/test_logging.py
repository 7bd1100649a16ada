"""The bot token never reaches the logs."""

from __future__ import annotations

import logging

from bot.logging_setup import RedactTokens, redact, setup_logging

TOKEN = "7234567890:AAHk3xAbCdEfGhIjKlMnOpQrStUvWxYz012"


def test_redact_url_and_bare_token():
    url = f"POST https://api.telegram.org/bot{TOKEN}/sendMessage"
    assert TOKEN not in redact(url)
    assert "sendMessage" in redact(url)
    assert TOKEN not in redact(f"token is {TOKEN}")


def test_filter_rewrites_records_with_args(caplog):
    setup_logging(logging.INFO)
    logger = logging.getLogger("httpx")
    logger.setLevel(logging.INFO)
    record = logger.makeRecord("httpx", logging.INFO, __file__, 1,
                               'HTTP Request: POST %s "%s"',
                               (f"https://api.telegram.org/bot{TOKEN}/getUpdates", "200 OK"),
                               None)
    RedactTokens().filter(record)
    assert TOKEN not in record.getMessage()
    assert "getUpdates" in record.getMessage()


def test_httpx_is_quiet_after_setup():
    setup_logging(logging.INFO)
    assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING
