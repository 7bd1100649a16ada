"""The button-data codec: one registry of prefixes, typed fields, Telegram's 64-byte limit."""

from __future__ import annotations

from datetime import date

import pytest

from bot.delivery import callbacks
from bot.delivery.callbacks import Buttons, CallbackDataError, calendar_day, choice, number, token

DEMO = Buttons("zz", {
    "pick": ("p", number("item"), calendar_day("on"), choice("slot", ("0", "1", "2"))),
    "only": (number("item"),),
    "hex": (token("token", r"[0-9a-f]{8}"), "go"),
})


def test_round_trip_gives_typed_values():
    data = DEMO.encode("pick", item=12, on=date(2024, 11, 25), slot="2")
    assert data == "zz:p:12:20241125:2"
    pressed = DEMO.decode(data)
    assert pressed.shape == "pick"
    assert (pressed["item"], pressed["on"], pressed["slot"]) == (12, date(2024, 11, 25), "2")
    assert DEMO.encode("only", item=7) == "zz:7" and DEMO.decode("zz:7")["item"] == 7
    assert DEMO.decode("zz:ab12cd34:go")["token"] == "ab12cd34"


@pytest.mark.parametrize("data", [
    None, "", "zz", "zz:", "zz:x", "zz:-1", "zz:1234567890123", "zy:7", "zz:7:", "zz:p:1:2024",
    "zz:p:1:20241340:0", "zz:p:1:20241125:3", "zz:AB12CD34:go", "zz:٣", "zz:" + "1" * 70,
])
def test_forged_truncated_or_foreign_data_decodes_to_none(data):
    assert DEMO.decode(data) is None


def test_encode_refuses_what_telegram_or_the_field_would_refuse():
    long = Buttons("zy", {"t": (token("text", r"[a-z]+"),)})
    with pytest.raises(CallbackDataError, match="64"):
        long.encode("t", text="a" * 62)
    with pytest.raises(CallbackDataError, match="slot"):
        DEMO.encode("pick", item=1, on=date(2024, 1, 1), slot="9")


def test_a_prefix_is_registered_once():
    first = callbacks.register("zq", only=(number("item"),))
    try:
        assert callbacks.REGISTRY["zq"] is first and first.pattern == "^zq:"
        with pytest.raises(CallbackDataError, match="already"):
            callbacks.register("zq", other=(number("item"),))
    finally:
        del callbacks.REGISTRY["zq"]
    with pytest.raises(CallbackDataError, match="lowercase"):
        callbacks.register("Q:", only=(number("item"),))


def test_every_feature_registers_its_buttons_and_keeps_their_bytes():
    from bot.apel.buttons import PLEDGE
    from bot.telegram import app

    app.handler_modules()  # imports every handler, and through them every feature's buttons
    assert {"p", "a", "an", "ar", "r", "c", "t", "k", "m"} <= set(callbacks.REGISTRY)
    assert PLEDGE.encode("pledge", apel=5) == "p:5" and PLEDGE.pattern == "^p:"
