"""Telegram's answers parsed with orjson, and PTB's lenient parser for what orjson refuses."""

from __future__ import annotations

import pytest
from telegram.error import TelegramError

from bot.telegram.http import AiohttpRequest


def test_an_answer_is_parsed():
    parsed = AiohttpRequest.parse_json_payload(
        b'{"ok":true,"result":[{"update_id":7,"message":{"text":"Selamat pagi, Pak"}}]}')
    assert parsed["result"][0]["message"]["text"] == "Selamat pagi, Pak"


def test_invalid_utf8_is_replaced_as_ptb_does():
    parsed = AiohttpRequest.parse_json_payload(b'{"ok":true,"result":"ab\xffc"}')
    assert parsed["result"] == "ab\ufffdc"


def test_what_is_not_json_is_a_telegram_error():
    with pytest.raises(TelegramError):
        AiohttpRequest.parse_json_payload(b"<html>502 Bad Gateway</html>")
