"""What a person typed after /dibaca or /tarik: nothing, or one announcement number."""

from __future__ import annotations

import re

_NUMBER = re.compile(r"^#?(\d{1,12})$")


def announcement_number(args: list[str]) -> tuple[bool, int | None]:
    """(valid, number): `[]` -> (True, None); `["#12"]` or `["12"]` -> (True, 12)."""
    if not args:
        return True, None
    match = _NUMBER.match(args[0]) if len(args) == 1 else None
    return (match is not None, int(match.group(1)) if match else None)
