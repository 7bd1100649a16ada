"""The pledge button under each briefing, registered in the codec: `p:<apel id>`."""

from __future__ import annotations

from bot.delivery.callbacks import number, register

PLEDGE = register("p", pledge=(number("apel"),))


def pledge_callback(apel_id: int) -> str:
    return PLEDGE.encode("pledge", apel=apel_id)


def parse_pledge_callback(data: str | None) -> int | None:
    """`p:<apel id>` -> apel id; anything else (forged, truncated, foreign) -> None."""
    pressed = PLEDGE.decode(data)
    return pressed["apel"] if pressed else None
