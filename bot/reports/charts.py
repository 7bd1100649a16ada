"""/grafik as a PNG read on a phone (Telegram shows photos about 1,280 px wide): large type,
colour-blind-safe colours (Okabe-Ito for the statuses, ColorBrewer RdYlBu for the shares), the
unit and period in the title. Labels come from messages/rekap_chart.txt.j2.

One unit, by the length of the period:
    week      (up to 14 days)   per day, one stacked bar per regu: on time / late / missing
    calendar  (up to 120 days)  heat-map regu × day, colour = share pledged, blank = no apel
    year      (longer)          one stacked bar of shares per week, all regu together
Several units: ranked horizontal stacked bars, worst first, with the average
(a Kanwil: its units; several Kanwil: one bar per Kanwil).

No pyplot: a Figure with the Agg canvas has no global state and needs no display, so it is safe
in a worker thread. `draw_*` build the Figure (tests count its bars and cells), `png` renders.
"""

from __future__ import annotations

import io
import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

from babel.dates import format_date

from bot.platform.texts import LOCALE, persen, render
from bot.reports.many_units import Rollup
from bot.reports.one_unit import DailySeries
from bot.reports.tally import Tally, total

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

WIDTH_IN, HEIGHT_IN, DPI = 12.8, 7.2, 100  # 1280 x 720 pixels, Telegram's photo width
PNG_MIME = "image/png"
WEEK_DAYS, CALENDAR_DAYS = 14, 120  # the longest period drawn per day / as a heat-map
# Okabe-Ito: told apart with any colour vision, and by lightness in grey
SEGMENTS = (("on_time", "#0072B2"), ("late", "#E69F00"), ("missing", "#D55E00"),
            ("other", "#BBBBBB"))
# Share bins of the heat-map (percent) and their colours (RdYlBu, red = low)
BINS = (0, 50, 70, 80, 90, 95, 99.95, 100.05)
BIN_LABELS = ("<50", "50–70", "70–80", "80–90", "90–95", "95–99", "100")
BIN_COLOURS = ("#a50026", "#e34a33", "#fc8d59", "#fee090", "#abd9e9", "#4575b4", "#253494")
DARK_BINS = {0, 1, 5, 6}  # white text on these
TITLE, LABEL, TICK, SMALL = 20, 16, 14, 12  # font sizes (points; 1 pt = 1.39 px here)
LEGEND_ROOM = 36  # points between the title and the chart: the legend's row
MISSED_MARK = dict(marker="x", color="0.35", markersize=9, markeredgewidth=2, clip_on=False,
                   linestyle="none")


@lru_cache(maxsize=64)
def _label(part: str, **ctx: object) -> str:
    return render("rekap_chart", part=part, **ctx)


def filename(series: DailySeries) -> str:
    span = series.span
    return f"grafik-ikrar-{series.unit.code}-{span.start:%Y%m%d}-{span.end:%Y%m%d}.png"


def ranking_filename(roll: Rollup) -> str:
    scope = "kanwil" if roll.kanwil else "nasional"
    return f"grafik-peringkat-{scope}-{roll.span.start:%Y%m%d}-{roll.span.end:%Y%m%d}.png"


def chart_kind(series: DailySeries) -> str:
    days = (series.span.end - series.span.start).days + 1
    return "week" if days <= WEEK_DAYS else "calendar" if days <= CALENDAR_DAYS else "year"


def render_chart(series: DailySeries, period_label: str) -> bytes:
    """The PNG bytes of one unit's chart. Pure CPU: call it off the event loop."""
    return png(draw_chart(series, period_label))


def render_ranking(roll: Rollup, period_label: str) -> bytes:
    """The PNG bytes of a Kanwil's (or every Kanwil's) ranking. Pure CPU."""
    return png(draw_ranking(roll, period_label))


def draw_chart(series: DailySeries, period_label: str) -> Figure:
    kind = chart_kind(series)
    draw = {"week": _draw_week, "calendar": _draw_calendar, "year": _draw_year}[kind]
    fig, ax = _figure(HEIGHT_IN)
    _title(ax, kind, series.unit.name, period_label)
    if not series.days:
        _empty(ax)
        return fig
    note = draw(fig, ax, series)
    _note(fig, note + (" " + _label("missed_note") if series.missed_days else ""))
    return fig


def png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


# --- figure parts ------------------------------------------------------------------------------


def _figure(height_in: float) -> tuple[Figure, Axes]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    fig.get_layout_engine().set(h_pad=0.12, w_pad=0.12)
    ax = fig.add_subplot()
    ax.tick_params(labelsize=TICK)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig, ax


def _title(ax: Axes, kind: str, name: str, period_label: str) -> None:
    ax.set_title(_label("title", kind=kind, name=name, period=period_label), fontsize=TITLE,
                 loc="left", pad=10 if kind == "calendar" else LEGEND_ROOM)


def _empty(ax: Axes) -> None:
    ax.set_axis_off()
    ax.text(0.5, 0.5, _label("empty"), transform=ax.transAxes, ha="center", va="center",
            fontsize=LABEL, color="0.4")


def _note(fig: Figure, text: str) -> None:
    fig.supxlabel(text, fontsize=SMALL, color="0.3", wrap=True)


def _segments(t: Tally) -> list[int]:
    """on time, late, missing, other (open apel, briefing not delivered): together Tally.due."""
    return [t.on_time, t.late, t.missing, t.pending + t.not_reached]


def _legend(ax: Axes, present: Sequence[bool], extra: Sequence[object] = ()) -> None:
    """The status colours (those drawn), between the title and the chart."""
    from matplotlib.patches import Patch

    handles = [Patch(color=colour, label=_label(name))
               for (name, colour), shown in zip(SEGMENTS, present, strict=True) if shown]
    handles += extra
    ax.legend(handles=handles, fontsize=TICK, ncols=len(handles), frameon=False,
              loc="lower left", bbox_to_anchor=(0, 1.0), borderaxespad=0.2,
              handlelength=1.6, columnspacing=1.4)


def _stack(ax: Axes, positions: Sequence[float], tallies: Sequence[Tally], width: float, *,
           share: bool, horizontal: bool = False) -> list[bool]:
    """Stacked bars (one per tally) in the status colours; which segments appear anywhere."""
    rows = [_segments(t) for t in tallies]
    if share:
        rows = [[100.0 * v / t.due if t.due else 0.0 for v in r]
                for r, t in zip(rows, tallies, strict=True)]
    base = [0.0] * len(rows)
    present = []
    for i, (_name, colour) in enumerate(SEGMENTS):
        values = [r[i] for r in rows]
        if horizontal:
            ax.barh(positions, values, width, left=base, color=colour, edgecolor="white",
                    linewidth=0.6)
        else:
            ax.bar(positions, values, width, bottom=base, color=colour, edgecolor="white",
                   linewidth=0.6)
        base = [b + v for b, v in zip(base, values, strict=True)]
        present.append(any(values))
    return present


def _floor(tallies: Sequence[Tally]) -> int:
    """Where a share axis starts: ten points below the lowest on-time share, in tens, so
    the differences between 90 % and 100 % are not squeezed into a sliver (at most 80)."""
    shares = [100.0 * t.on_time / t.due for t in tallies if t.due]
    if not shares:
        return 0
    return max(0, min(80, 10 * math.floor(min(shares) / 10) - 10))


def _pct(t: Tally) -> str:
    return persen(t.pledged, t.due)


def _local(day: date, pattern: str) -> str:
    return format_date(day, pattern, locale=LOCALE)


def _days(series: DailySeries) -> list[date]:
    start, end = series.span.start, series.span.end
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


# --- one unit ----------------------------------------------------------------------------------


def _draw_week(fig: Figure, ax: Axes, series: DailySeries) -> str:
    """Per day, one stacked bar (people) per regu that stood an apel that day."""
    days = _days(series)
    per_day = [[(name, points[d]) for name, points in series.series if d in points]
               for d in days]
    width = 0.84 / max(1, max(len(groups) for groups in per_day))
    positions, tallies, shorts = [], [], []
    for i, groups in enumerate(per_day):
        first = i - width * (len(groups) - 1) / 2
        for k, (name, t) in enumerate(groups):
            positions.append(first + k * width)
            tallies.append(t)
            shorts.append(_label("short", name=name))
    present = _stack(ax, positions, tallies, width * 0.9, share=False)
    top = max((t.due for t in tallies), default=1)
    for x, t in zip(positions, tallies, strict=True):
        if t.missing:
            ax.text(x, t.due + top * 0.015, str(t.missing), ha="center", va="bottom",
                    fontsize=TICK, fontweight="bold", color=SEGMENTS[2][1])
    ax.xaxis.remove_overlapping_locs = False  # a regu's bar may sit on the day's centre
    ax.set_xticks(positions, shorts, minor=True, fontsize=SMALL)
    labels = [_label("day", day=_local(d, "EEE d MMM"), pct=_pct(total(t for _, t in g)))
              if g else _local(d, "EEE d MMM") for d, g in zip(days, per_day, strict=True)]
    ax.set_xticks(range(len(days)), labels, fontsize=TICK)
    ax.tick_params(axis="x", which="major", length=0, pad=22)
    ax.tick_params(axis="x", which="minor", length=0, pad=4)
    ax.set_xlim(-0.5, len(days) - 0.5)
    ax.set_ylim(0, top * 1.2)
    ax.set_ylabel(_label("people"), fontsize=LABEL)
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    missed = [days.index(d) for d in series.missed_days if d in days]
    if missed:
        ax.plot(missed, [top * 1.12] * len(missed), **MISSED_MARK)
    _legend(ax, present)
    return _label("note_week")


def _draw_calendar(fig: Figure, ax: Axes, series: DailySeries) -> str:
    """Regu × day; colour = share pledged; blank where the regu stood no apel."""
    import numpy as np
    from matplotlib.colors import BoundaryNorm, ListedColormap

    days = _days(series)
    names = [name for name, _ in series.series]
    grid = np.full((len(names), len(days)), np.nan)
    for r, (_, points) in enumerate(series.series):
        for c, d in enumerate(days):
            t = points.get(d)
            if t is not None and t.due:
                grid[r, c] = 100.0 * t.pledged / t.due
    cmap = ListedColormap(BIN_COLOURS).with_extremes(bad="white")
    norm = BoundaryNorm(BINS, cmap.N)
    mesh = ax.pcolormesh(np.ma.masked_invalid(grid), cmap=cmap, norm=norm, edgecolors="0.85",
                         linewidth=0.8 if len(days) <= 31 else 0.3)
    ax.set_ylim(len(names), -0.6)  # a strip above the first row for the missed-apel marks
    ax.set_yticks([r + 0.5 for r in range(len(names))], names, fontsize=LABEL)
    if len(days) <= 31:
        ticks = list(range(len(days)))
        _cell_values(ax, grid, norm)
    else:
        ticks = list(range(0, len(days), 7))
    ax.set_xticks([c + 0.5 for c in ticks],
                  [_local(days[c], "d" if len(days) <= 31 else "d MMM") for c in ticks],
                  fontsize=TICK)
    ax.tick_params(length=0)
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    if len(days) <= 31:
        ax.set_xlabel(_month_label(days), fontsize=LABEL)
    missed = [days.index(d) + 0.5 for d in series.missed_days if d in days]
    if missed:
        ax.plot(missed, [-0.3] * len(missed), **MISSED_MARK)
    bar = fig.colorbar(mesh, ax=ax, orientation="horizontal", fraction=0.06, pad=0.02,
                       aspect=50)
    bar.set_ticks([(a + b) / 2 for a, b in zip(BINS, BINS[1:], strict=False)],
                  labels=[f"{b}%" for b in BIN_LABELS])
    bar.ax.tick_params(labelsize=SMALL, length=0)
    bar.set_label(_label("colours"), fontsize=SMALL)
    return _label("note_calendar")


def _cell_values(ax: Axes, grid: object, norm: object) -> None:
    """The share in each cell (a month: cells are wide enough to read)."""
    rows, cols = grid.shape
    for r in range(rows):
        for c in range(cols):
            v = grid[r, c]
            if v == v:  # not NaN
                dark = int(norm(v)) in DARK_BINS
                ax.text(c + 0.5, r + 0.5, f"{v:.0f}", ha="center", va="center", fontsize=11,
                        color="white" if dark else "black")


def _month_label(days: list[date]) -> str:
    months = sorted({(d.year, d.month) for d in days})
    return " – ".join(_local(date(y, m, 1), "MMMM yyyy") for y, m in months)


def _draw_year(fig: Figure, ax: Axes, series: DailySeries) -> str:
    """One stacked bar of shares per week (Monday to Sunday), every regu together."""
    from matplotlib.dates import MonthLocator, date2num
    from matplotlib.ticker import FuncFormatter, PercentFormatter

    weeks: dict[date, Tally] = defaultdict(Tally)
    for _, points in series.series:
        for d, t in points.items():
            weeks[d - timedelta(days=d.weekday())].add(t)
    starts = sorted(weeks)
    tallies = [weeks[w] for w in starts]
    centres = [date2num(w) + 3 for w in starts]
    present = _stack(ax, centres, tallies, 5.6, share=True)
    floor = _floor(tallies)
    ax.set_ylim(floor, 100)
    ax.yaxis.set_major_formatter(PercentFormatter(100, decimals=0))
    ax.set_ylabel(_label("share"), fontsize=LABEL)
    ax.set_xlim(date2num(series.span.start) - 1, date2num(series.span.end) + 1)
    ax.xaxis.set_major_locator(MonthLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(
        lambda x, _pos: _local(_num2date(x), "MMM\nyyyy" if _num2date(x).month == 1 else "MMM")))
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    missed = sorted({date2num(d - timedelta(days=d.weekday())) + 3 for d in series.missed_days})
    if missed:
        ax.plot(missed, [100 + (100 - floor) * 0.03] * len(missed), **MISSED_MARK)
    _legend(ax, present)
    return _label("note_year", floor=floor)


def _num2date(x: float) -> date:
    from matplotlib.dates import num2date

    return num2date(x).date()


# --- several units: the ranking ----------------------------------------------------------------


def draw_ranking(roll: Rollup, period_label: str) -> Figure:
    """Horizontal stacked bars of shares, the worst at the top, the average as a line."""
    kind = "kanwil" if roll.kanwil else "national"
    lines = roll.lines
    fig, ax = _figure(max(HEIGHT_IN, 2.6 + 0.46 * len(lines)))
    _title(ax, kind, roll.kanwil or "", period_label)
    if not any(line.total.due for line in lines):
        _empty(ax)
        return fig
    tallies = [line.total for line in lines]
    present = _stack(ax, range(len(lines)), tallies, 0.72, share=True, horizontal=True)
    floor = _floor(tallies)
    ax.set_xlim(floor, 100)
    ax.set_ylim(len(lines) - 0.5, -0.5)  # the worst (first) at the top
    ax.set_yticks(range(len(lines)), [line.name for line in lines], fontsize=TICK)
    ax.tick_params(axis="y", length=0)
    from matplotlib.ticker import PercentFormatter

    ax.xaxis.set_major_formatter(PercentFormatter(100, decimals=0))
    ax.set_xlabel(_label("share"), fontsize=LABEL)
    for y, t in enumerate(tallies):
        text = (_label("bar_value", pct=_pct(t), missing=t.missing) if t.due
                else _label("no_apel"))
        ax.text(floor + (100 - floor) * 0.01, y, text, va="center", fontsize=SMALL,
                color="white" if t.due else "0.3", fontweight="bold")
    average = 100.0 * roll.total.pledged / roll.total.due
    line = ax.axvline(average, color="black", linestyle="--", linewidth=2,
                      label=_label("average", kind=kind, pct=_pct(roll.total)))
    _legend(ax, present, [line])
    _note(fig, _label("note_ranking", floor=floor))
    return fig
