"""The announcements' button data, registered once in the codec (bot/delivery/callbacks.py)."""

from __future__ import annotations

from bot.announcements.targets import SCOPES
from bot.delivery.callbacks import choice, number, register, token

# "Sudah dibaca" under each post: a:<announcement id>.
READ = register("a", read=(number("announcement"),))

# The compose dialog: an:<draft token>:<action>. The token ties a press to its draft, so a
# button of an older draft does nothing.
_DRAFT = token("token", r"[0-9a-f]{8}")
COMPOSE = register(
    "an",
    no_media=(_DRAFT, "none"),
    cancel=(_DRAFT, "cancel"),
    send=(_DRAFT, "send"),
    target=(_DRAFT, "t", choice("scope", SCOPES)),
)

# Under a /dibaca report and the withdrawal question: ar:<action>:<announcement id>.
_ANNOUNCEMENT = number("announcement")
FOLLOW_UP = register(
    "ar",
    xlsx=("x", _ANNOUNCEMENT),
    withdraw=("w", _ANNOUNCEMENT),
    withdraw_yes=("wy", _ANNOUNCEMENT),
    withdraw_no=("wn", _ANNOUNCEMENT),
)


def parse_ack_callback(data: str | None) -> int | None:
    """`a:<announcement id>` -> id; anything else (forged, truncated, foreign) -> None."""
    pressed = READ.decode(data)
    return pressed["announcement"] if pressed else None
