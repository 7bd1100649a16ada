"""Every /grafik chart kind drawn from fixed figures: its size, what is drawn (bars, cells, their
order) and that the PNG decodes. Look at them with `python -m benchmarks.bench_charts --out DIR`.
"""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from PIL import Image

from bot.calendar.periods import RANGE, PeriodSpec, Span
from bot.org.models import Unit
from bot.reports import charts
from bot.reports.many_units import Rollup, RollupLine
from bot.reports.one_unit import DailySeries
from bot.reports.tally import Tally, total, worst_first

UNIT = Unit(id=1, code="lapas-palu", name="Lapas Kelas IIA Palu", kind="Lapas",
            kanwil="Kanwil Sulawesi Tengah", timezone="Asia/Makassar", kalapas_chat_id=1)
MON = date(2024, 11, 25)


def tally(on_time: int, late: int = 0, missing: int = 0, leave: int = 0) -> Tally:
    t = Tally()
    for status, n in (("on_time", on_time), ("late", late), ("missing", missing),
                      ("leave", leave)):
        t.count(status, n)
    return t


def series(start: date, days: int, groups: dict[str, dict[int, Tally]],
           missed: tuple[int, ...] = ()) -> DailySeries:
    """`groups`: name -> {day offset: tally}."""
    end = start + timedelta(days=days - 1)
    points = [(name, {start + timedelta(days=i): t for i, t in by_day.items()})
              for name, by_day in groups.items()]
    return DailySeries(unit=UNIT, span=Span(PeriodSpec(RANGE, start, end), start, end),
                       days=sorted({d for _, p in points for d in p}), series=points,
                       total=total(t for _, p in points for t in p.values()),
                       missed_days=[start + timedelta(days=i) for i in missed],
                       missed_apel=len(missed))


def bars(fig) -> list[tuple[float, float]]:  # noqa: ANN001
    """(position, total length) of each drawn bar: its stacked segments added up."""
    ax = fig.axes[0]
    out: dict[float, float] = {}
    for container in ax.containers:
        for rect in container:
            horizontal = container.orientation == "horizontal"
            at = rect.get_y() + rect.get_height() / 2 if horizontal else (
                rect.get_x() + rect.get_width() / 2)
            size = rect.get_width() if horizontal else rect.get_height()
            out[round(at, 6)] = out.get(round(at, 6), 0) + size
    return sorted((k, v) for k, v in out.items() if v > 0)


def decoded(fig) -> Image.Image:  # noqa: ANN001
    content = charts.png(fig)
    image = Image.open(io.BytesIO(content))
    image.load()
    assert image.format == "PNG" and len(content) > 20_000  # drawn, not a blank canvas
    return image


def title(fig) -> str:  # noqa: ANN001
    return fig.axes[0].get_title(loc="left")


def test_a_week_is_stacked_bars_per_day_and_regu():
    s = series(MON, 7, {"Regu A": {0: tally(3, 1, 1)}, "Regu B": {0: tally(4), 1: tally(0, 4)},
                        "Staf administrasi": {1: tally(2, 0, 0, leave=1)}}, missed=(2,))
    assert charts.chart_kind(s) == "week"
    fig = charts.draw_chart(s, "Minggu ini")
    assert decoded(fig).size == (1280, 720)
    assert [round(size) for _, size in bars(fig)] == [5, 4, 4, 2]  # people due, leave out
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels(minor=True)] == ["A", "B", "B", "Staf"]
    days = [t.get_text() for t in ax.get_xticklabels()]
    assert len(days) == 7 and days[0] == "Sen 25 Nov\n89%" and days[2] == "Rab 27 Nov"
    # on time and late apart: Regu B on the 26th, all four late, is an all-late bar
    on_time, late, missing, _ = ax.containers
    assert [r.get_height() for r in late] == [1, 0, 4, 0]
    assert [r.get_height() for r in missing] == [1, 0, 0, 0]
    assert "1" in [t.get_text() for t in ax.texts]  # Regu A's one missing, above its bar
    assert "Lapas Kelas IIA Palu" in title(fig) and "Minggu ini" in title(fig)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "Tepat waktu", "Terlambat", "Belum berikrar"]


@pytest.mark.parametrize("days", [30, 92])
def test_a_month_or_quarter_is_a_heat_map_blank_where_no_apel(days):
    groups = {"Regu A": {i: tally(9, 0, 1) for i in range(0, days, 4)},
              "Regu B": {i: tally(10) for i in range(1, days, 4)},
              "Staf administrasi": {i: tally(0, 0, 0, leave=2) for i in range(2)}}  # none due
    s = series(date(2024, 11, 1), days, groups, missed=(3,))
    assert charts.chart_kind(s) == "calendar"
    fig = charts.draw_chart(s, "Bulan ini")
    assert decoded(fig).size == (1280, 720)
    mesh = fig.axes[0].collections[0]
    cells = mesh.get_array()
    assert cells.shape == (3, days)  # regu × day
    shown = [float(v) for v in cells.compressed()]
    assert len(shown) == len(groups["Regu A"]) + len(groups["Regu B"])  # the rest blank
    assert sorted(set(shown)) == [90.0, 100.0]
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert (texts.count("90") == len(groups["Regu A"])) == (days <= 31)  # values: a month only
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == list(groups)


def test_a_year_is_weekly_stacked_bars_from_the_lowest_share():
    s = series(date(2024, 1, 1), 366, {"Regu A": {0: tally(8, 1, 1), 3: tally(10),
                                                  7: tally(5, 0, 5)},
                                       "Regu B": {8: tally(10)}, "Regu C": {300: tally(9, 1)}})
    assert charts.chart_kind(s) == "year"
    fig = charts.draw_chart(s, "Periode 2024")
    assert decoded(fig).size == (1280, 720)
    weekly = bars(fig)
    assert len(weekly) == 3 and all(size == pytest.approx(100) for _, size in weekly)
    assert fig.axes[0].get_ylim() == (60, 100)  # lowest on-time week: 15/20 = 75 %, less 10


def ranking(kanwil: str | None) -> Rollup:
    lines = [RollupLine(1, "Lapas Baik", tally(95, 3, 2)), RollupLine(2, "Rutan Baru", Tally()),
             RollupLine(3, "Lapas Kurang", tally(60, 10, 30))]
    lines.sort(key=lambda line: worst_first(line.total, line.name))
    span = Span(PeriodSpec(RANGE, MON, MON), MON, MON)
    return Rollup(kanwil=kanwil, span=span, lines=lines, total=total(x.total for x in lines))


@pytest.mark.parametrize("kanwil", ["Kanwil Sulawesi Tengah", None])
def test_rankings_are_worst_first_with_the_average(kanwil):
    fig = charts.draw_ranking(ranking(kanwil), "Periode 2024")
    image = decoded(fig)
    assert image.width == 1280 and image.height >= 720
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "Lapas Kurang", "Lapas Baik", "Rutan Baru"]  # nothing held yet: last
    assert [pos for pos, _ in bars(fig)] == [0, 1]
    average = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert average[0].get_xdata()[0] == pytest.approx(100 * 168 / 200)
    assert "Rata-rata" in ax.get_legend().get_texts()[-1].get_text()
    assert ("Seluruh Kanwil" in title(fig)) == (kanwil is None)


def test_no_apel_says_so():
    fig = charts.draw_chart(series(MON, 7, {}), "Minggu ini")
    assert "Belum ada data apel" in fig.axes[0].texts[0].get_text()
    decoded_png = Image.open(io.BytesIO(charts.png(fig)))
    assert decoded_png.size == (1280, 720)
