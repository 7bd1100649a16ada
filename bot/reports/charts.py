"""/grafik: daily pledge compliance per regu of one unit, as a PNG (matplotlib, headless).

No pyplot: a Figure with the Agg canvas has no global state and needs no display, so it is safe
in a worker thread. Labels come from messages/rekap_chart.txt.j2.
"""

from __future__ import annotations

import io
import math
from datetime import date
from functools import lru_cache

from babel.dates import format_date

from bot.platform.texts import LOCALE, render
from bot.reports.reports import DailySeries

WIDTH_IN, HEIGHT_IN, DPI = 11.0, 6.0, 100  # 1100 x 600 pixels: readable on a phone, zoomable
PNG_MIME = "image/png"


@lru_cache(maxsize=8)
def _label(part: str) -> str:
    return render("rekap_chart", part=part)


def filename(series: DailySeries) -> str:
    span = series.span
    return f"grafik-ikrar-{series.unit.code}-{span.start:%Y%m%d}-{span.end:%Y%m%d}.png"


def render_chart(series: DailySeries, period_label: str) -> bytes:
    """The PNG bytes. Pure CPU: call it off the event loop."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import DayLocator, MonthLocator, date2num
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, PercentFormatter

    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    many = len(series.days) > 45
    plotted = 0
    for name, points in series.series:
        days = [d for d in sorted(points) if points[d][1] > 0]
        if not days:
            continue
        values = [100.0 * points[d][0] / points[d][1] for d in days]
        ax.plot([date2num(d) for d in days], values, label=name, linewidth=1.2 if many else 1.8,
                marker=None if many else "o", markersize=4)
        plotted += 1
    for day in series.missed_days:  # the bot was down: marked, not counted as anyone missing
        ax.axvline(date2num(day), color="0.55", linestyle=":", linewidth=1, zorder=0)
    start, end = series.span.start, series.span.end
    if series.days:
        start, end = max(start, series.days[0]), min(end, series.days[-1])
    ax.set_xlim(date2num(start) - 0.5, date2num(end) + 0.5)
    ax.set_ylim(0, 105)
    ax.yaxis.set_major_formatter(PercentFormatter(100, decimals=0))
    days = (end - start).days + 1
    if days > 92:
        ax.xaxis.set_major_locator(MonthLocator())
        pattern = "MMM yyyy"
    else:
        ax.xaxis.set_major_locator(DayLocator(interval=max(1, math.ceil(days / 10))))
        pattern = "d MMM"
    ax.xaxis.set_major_formatter(FuncFormatter(
        lambda x, _pos: format_date(_num2date(x), pattern, locale=LOCALE)))
    ax.grid(True, alpha=0.3)
    ax.set_title(render("rekap_chart", part="title", unit=series.unit, period=period_label),
                 fontsize=13)
    ax.set_xlabel(_label("xlabel"))
    ax.set_ylabel(_label("ylabel"))
    if plotted:
        ax.legend(loc="lower left", fontsize=9, ncols=min(plotted, 5), framealpha=0.9)
    else:
        ax.text(0.5, 0.5, _label("empty"), transform=ax.transAxes, ha="center", va="center",
                fontsize=12, color="0.4")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.text(0.01, 0.012, _label("note") + (" " + _label("missed_note")
                                           if series.missed_days else ""),
             fontsize=8, color="0.35")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _num2date(x: float) -> date:
    from matplotlib.dates import num2date

    return num2date(x).date()
