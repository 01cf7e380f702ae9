"""The history's daily chart: stacked bars of mail per day and status, laid out here as SVG
coordinates (the console's CSP forbids inline scripts, and a chart library would be the only
JS the console needs)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from babel.dates import format_date
from flask_babel import get_locale

from console.translations import status_name

# Colour-blind safe palette (Okabe-Ito), one colour per status; unknown statuses get grey.
STATUS_COLOURS = {
    "processed": "#009E73",
    "failed": "#D55E00",
    "auto": "#56B4E9",
    "duplicate": "#999999",
    "rejected": "#CC79A7",
    "resubmitted": "#0072B2",
    "moved": "#E69F00",
}


def day_label(day: date) -> str:
    """'10 Nov' in English, '10 nov.' in French: the reader's month names (English outside
    a request)."""
    return str(format_date(day, "d MMM", locale=get_locale() or "en"))


@dataclass(frozen=True)
class Bar:
    """One stacked segment: a status's count on a day, in SVG coordinates."""

    x: float
    y: float
    width: float
    height: float
    colour: str
    label: str


@dataclass
class Chart:
    """What the SVG template draws: segments, day labels, a y-axis scale and a legend."""

    width: int
    height: int
    bars: list[Bar]
    days: list[tuple[float, str]]  # x of the label, text
    ticks: list[tuple[float, int]]  # y of the gridline, value
    legend: list[tuple[str, str, int]]  # status, colour, total
    total: int
    top: int = 10
    left: int = 40
    plot_height: int = 160


def bar_chart(
    counts: Iterable[tuple[date, str, int]],
    first: date,
    last: date,
    width: int = 1000,
    plot_height: int = 160,
) -> Chart:
    """Stacked bars of counts per day and status (the history's: messages), from `first` to
    `last` inclusive.

    Days without events are drawn as gaps (not skipped), so the x axis is a true time axis.
    """
    if last < first:
        first, last = last, first
    ndays = min((last - first).days + 1, 366)
    per_day: dict[date, dict[str, int]] = defaultdict(dict)
    totals: dict[str, int] = defaultdict(int)
    for day, status, n in counts:
        day = day.date() if isinstance(day, datetime) else day
        per_day[day][status] = per_day[day].get(status, 0) + n
        totals[status] += n
    order = [s for s in STATUS_COLOURS if s in totals] + sorted(set(totals) - set(STATUS_COLOURS))
    peak = max((sum(v.values()) for v in per_day.values()), default=0)
    scale_max = _nice_ceiling(peak)
    left, top, bottom = 40, 10, 24
    plot_width = width - left - 10
    slot = plot_width / ndays
    bar_width = max(1.0, slot * 0.8)
    bars: list[Bar] = []
    days: list[tuple[float, str]] = []
    label_every = max(1, round(ndays / 10))
    for i in range(ndays):
        day = first + timedelta(days=i)
        x = left + i * slot + (slot - bar_width) / 2
        y = float(top + plot_height)
        for status in order:
            n = per_day.get(day, {}).get(status, 0)
            if not n:
                continue
            h = plot_height * n / scale_max
            y -= h
            colour = STATUS_COLOURS.get(status, "#777777")
            bars.append(
                Bar(
                    round(x, 2),
                    round(y, 2),
                    round(bar_width, 2),
                    round(h, 2),
                    colour,
                    f"{day.isoformat()}: {n} {status_name(status)}",
                )
            )
        if i % label_every == 0:
            days.append((round(left + i * slot + slot / 2, 2), day_label(day)))
    ticks = [
        (round(top + plot_height - plot_height * v / scale_max, 2), v)
        for v in range(0, scale_max + 1, max(1, scale_max // 4))
    ]
    legend = [(s, STATUS_COLOURS.get(s, "#777777"), totals[s]) for s in order]
    return Chart(
        width=width,
        height=top + plot_height + bottom,
        bars=bars,
        days=days,
        ticks=ticks,
        legend=legend,
        total=sum(totals.values()),
        top=top,
        left=left,
        plot_height=plot_height,
    )


def _nice_ceiling(n: int) -> int:
    """The smallest of 4, 8, 20, 40, 80, 200... at least `n`: round gridlines in quarters."""
    step = 4
    while step < n:
        for factor in (2, 2.5, 2):
            step = int(step * factor)
            if step >= n:
                break
    return step
