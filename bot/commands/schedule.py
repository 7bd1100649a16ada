"""`apel-bot schedule --date YYYY-MM-DD [--unit CODE]`: the apel plan of a day, as a table."""

from __future__ import annotations

import argparse
from datetime import date

from bot.calendar.duty import day_plan
from bot.commands.common import add_config_arg, load
from bot.platform.texts import render


def _parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {value!r}") from None


def _schedule(args: argparse.Namespace) -> int:
    settings = load(args)
    units = settings.units
    if args.unit:
        units = [u for u in units if u.code == args.unit]
        if not units:
            known = ", ".join(u.code for u in settings.units)
            raise SystemExit(f"error: unknown unit {args.unit!r}; known units: {known}")
    for offset in range(args.days):
        day = date.fromordinal(args.date.toordinal() + offset)
        for unit in units:
            plans = day_plan(unit, day, settings.calendar)
            in_period = settings.period.start <= day <= settings.period.end
            print(render("schedule_table", unit=unit, day=day, plans=plans, in_period=in_period))
            print()
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("schedule", help="print the apel plan of a date")
    add_config_arg(p)
    p.add_argument("--date", type=_parse_date, required=True, help="YYYY-MM-DD")
    p.add_argument("--unit", help="unit code (default: all units)")
    p.add_argument("--days", type=int, default=1, help="how many consecutive days (default 1)")
    p.set_defaults(func=_schedule)
