"""Test helpers: a fake Telegram Bot API server and friends."""
