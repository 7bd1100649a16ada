"""Render time of every /grafik chart kind, from generated figures (no database):

    python -m benchmarks.bench_charts [--runs 5] [--out /tmp/views]

One unit of 4 regu and administration staff over a week, a month, a quarter and a year
(366 days: the heat-map's and weekly bars' inputs at full size), a Kanwil of 30 units and all
33 Kanwil of the country for a year. Prints the median render time per chart (PNG bytes, what
the bot runs in a worker thread) and the load average; --out writes each PNG there to look
at. The reads behind them are timed by benchmarks/bench_reports.py on a year of real rows.
Target: < 2 s each.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import date, timedelta
from pathlib import Path

from benchmarks.machine import machine_text
from bot.calendar.periods import RANGE, PeriodSpec, Span
from bot.org.models import Unit
from bot.reports import charts
from bot.reports.many_units import Rollup, RollupLine
from bot.reports.one_unit import DailySeries
from bot.reports.tally import Tally, total, worst_first

YEAR_START = date(2024, 1, 1)
TARGET_S = 2.0


def span(start: date, days: int) -> Span:
    end = start + timedelta(days=days - 1)
    return Span(PeriodSpec(RANGE, start, end), start, end)


def tally(rng: random.Random, due: int, quality: float) -> Tally:
    """`due` people; about `quality` of them on time, the rest late or missing."""
    t = Tally()
    on_time = min(due, round(due * quality * rng.uniform(0.96, 1.04)))
    late = rng.randint(0, due - on_time)
    for status, n in (("on_time", on_time), ("late", late), ("missing", due - on_time - late),
                      ("leave", rng.randrange(3))):
        t.count(status, n)
    return t


def unit_series(rng: random.Random, s: Span, unit: Unit) -> DailySeries:
    """4 regu rotating pagi/siang/malam/libur, administration on working days; two missed."""
    groups = [f"Regu {c}" for c in "ABCD"] + ["Staf administrasi"]
    quality = {g: rng.uniform(0.75, 0.97) for g in groups}
    series: list[tuple[str, dict[date, Tally]]] = []
    days = [s.start + timedelta(days=i) for i in range((s.end - s.start).days + 1)]
    missed = [days[len(days) // 3], days[2 * len(days) // 3]] if len(days) > 3 else []
    for k, g in enumerate(groups[:4]):
        series.append((g, {d: tally(rng, 70, quality[g]) for i, d in enumerate(days)
                           if (i + k) % 4 != 3 and not (d in missed and (i + k) % 4 == 2)}))
    series.append((groups[4], {d: tally(rng, 20, quality[groups[4]]) for d in days
                               if d.weekday() < 5}))
    all_t = [t for _, points in series for t in points.values()]
    return DailySeries(unit=unit, span=s, days=sorted({d for _, p in series for d in p}),
                       series=series, total=total(all_t), missed_days=missed,
                       missed_apel=len(missed))


def ranking(rng: random.Random, s: Span, names: list[str], kanwil: str | None,
            staff: int) -> Rollup:
    lines = [RollupLine(i, name, tally(rng, staff, rng.uniform(0.6, 0.98)))
             for i, name in enumerate(names, 1)]
    lines.append(RollupLine(len(lines) + 1, names[0] + " Baru", Tally()))  # nothing held yet
    lines.sort(key=lambda line: worst_first(line.total, line.name))
    return Rollup(kanwil=kanwil, span=s, lines=lines, total=total(x.total for x in lines))


def cases(rng: random.Random) -> list[tuple[str, str, object]]:
    unit = Unit(id=1, code="lapas-palu", name="Lapas Kelas IIA Palu", kanwil="Kanwil Sulteng",
                timezone="Asia/Makassar", kind="Lapas", kalapas_chat_id=1)
    year = span(YEAR_START, 366)
    units = [f"Lapas Kelas IIA Kota {i:02d}" for i in range(1, 30)]
    kanwils = [f"Kanwil Provinsi {i:02d}" for i in range(1, 33)]
    return [
        ("week", "25-11-2024 s.d. 01-12-2024", unit_series(rng, span(date(2024, 11, 25), 7), unit)),
        ("month", "November 2024", unit_series(rng, span(date(2024, 11, 1), 30), unit)),
        ("quarter", "Oktober s.d. Desember 2024", unit_series(rng, span(date(2024, 10, 1), 92),
                                                              unit)),
        ("unit-year", "Periode 2024", unit_series(rng, year, unit)),
        ("kanwil-year", "Periode 2024", ranking(rng, year, units, "Kanwil Sulawesi Tengah",
                                                300 * 3 * 366)),
        ("national-year", "Periode 2024", ranking(rng, year, kanwils, None, 300 * 3 * 366 * 12)),
    ]


def render(data: object, label: str) -> bytes:
    if isinstance(data, Rollup):
        return charts.render_ranking(data, label)
    return charts.render_chart(data, label)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, help="write each chart here as <name>.png")
    args = parser.parse_args()
    rng = random.Random(1)
    slow = []
    render(cases(rng)[0][2], "warm-up")  # imports matplotlib once
    for name, label, data in cases(rng):
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            content = render(data, label)
            times.append(time.perf_counter() - t0)
        median = statistics.median(times)
        print(f"{name:14s} {median:6.2f} s  {len(content) / 1024:6.0f} KiB")
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / f"{name}.png").write_bytes(content)
        if median >= TARGET_S:
            slow.append(name)
    print(machine_text())
    if slow:
        print(f"over {TARGET_S} s: {', '.join(slow)}")
    return 1 if slow else 0


if __name__ == "__main__":
    raise SystemExit(main())
