"""The `q:` buttons under a report: their data and the rows they stand in.

The data says what was asked, never who may ask it: the scope is checked again on every press
(bot/reports/scope.py).

Button data (at most 64 bytes, validated by parse_callback):
    q:rekap:<period>                 the asker's whole scope (roll-up if several units)
    q:kanwil:<unit id>:<period>      roll-up of the Kanwil of that unit
    q:unit:<unit id>:<period>        one unit, per apel and regu
    q:belum:<unit id>                who has not pledged at the current or last apel
    q:unduh:<unit id>:<period>       the XLSX workbook
    q:grafik:<unit id>:<period>      the PNG chart
    q:peringkat:<unit id>:<period>   the PNG ranking of the units of that unit's Kanwil
    q:peringkatn:<period>            the PNG ranking of the Kanwil (the asker's whole scope)
    q:status:<employee id>:<period>  one person's record
    q:regu:<regu id>:<period>        one regu, person by person
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.calendar.periods import BUTTON_SPECS, PeriodSpec, spec_from_token
from bot.delivery import outbox
from bot.platform.texts import render
from bot.reports.many_units import Rollup

PREFIX = "q:"
# action -> (takes an id, takes a period)
ACTIONS: dict[str, tuple[bool, bool]] = {
    "rekap": (False, True), "kanwil": (True, True), "unit": (True, True),
    "belum": (True, False), "unduh": (True, True), "grafik": (True, True),
    "status": (True, True), "regu": (True, True), "peringkat": (True, True),
    "peringkatn": (False, True),
}
FILE_ACTIONS = ("unduh", "grafik", "peringkat", "peringkatn")  # answered with a file


@dataclass(frozen=True)
class Press:
    action: str
    target: int | None
    spec: PeriodSpec | None


def callback(action: str, target: int | None = None, spec: PeriodSpec | None = None) -> str:
    takes_id, takes_period = ACTIONS[action]
    parts = [action]
    if takes_id:
        parts.append(str(target))
    if takes_period:
        parts.append(spec.token if spec else "h")
    return PREFIX + ":".join(parts)


def parse_callback(data: str | None) -> Press | None:
    """`q:...` -> Press; forged, truncated or foreign data -> None."""
    if not data or not data.startswith(PREFIX) or len(data) > 64:
        return None
    parts = data[len(PREFIX):].split(":")
    if not parts or parts[0] not in ACTIONS:
        return None
    takes_id, takes_period = ACTIONS[parts[0]]
    if len(parts) != 1 + takes_id + takes_period:
        return None
    target = None
    if takes_id:
        raw = parts[1]
        if not raw.isdigit() or len(raw) > 12:
            return None
        target = int(raw)
    spec = None
    if takes_period:
        spec = spec_from_token(parts[-1])
        if spec is None:
            return None
    return Press(parts[0], target, spec)


# --- rows of buttons ---------------------------------------------------------------------------


def button(label_part: str, data: str, **ctx: object) -> dict:
    return outbox.button(render("rekap_button", part=label_part, **ctx), data)


def period_rows(action: str, target: int | None, current: PeriodSpec) -> list[list[dict]]:
    buttons = [button("period", callback(action, target, spec), kind=spec.kind,
                      current=spec == current) for spec in BUTTON_SPECS]
    return [buttons[:3], buttons[3:]]


def pairs(buttons: list[dict]) -> list[list[dict]]:
    return [buttons[i:i + 2] for i in range(0, len(buttons), 2)]


def rollup_rows(roll: Rollup, action: str, drill: str, target: int | None,
                spec: PeriodSpec) -> list[list[dict]]:
    """Period buttons, then one button per line (in the roll-up's order) to drill into."""
    return period_rows(action, target, spec) + pairs(
        [button("unit", callback(drill, line.key_unit_id, spec), name=line.name,
                total=line.total) for line in roll.lines][:80])
