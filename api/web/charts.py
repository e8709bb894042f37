"""SVG charts drawn on the server: no chart library, no script, works offline and in print.

Every function returns markup safe to embed (all text is escaped). Charts carry `role="img"`
and a title and description naming what they show; pages also print the numbers in a table,
so nothing is only visible as a picture. Colours pair with text (health is also written out).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import count
from typing import Protocol

from markupsafe import Markup, escape

HEALTH_COLOURS = {
    "on_track": "#1a7f37",
    "at_risk": "#9a6700",
    "off_track": "#cf222e",
    None: "#6e7781",
}
SERIES_COLOURS = ("#0969da", "#8250df", "#bf3989", "#1a7f37", "#9a6700", "#57606a")
_ids = count(1)


def _id(prefix: str) -> str:
    return f"{prefix}{next(_ids)}"


def _n(value: float) -> str:
    """A coordinate with at most one decimal."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def fmt_number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "–"
    text = f"{value:,.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}"
    return f"{text} {unit}".strip() if unit and unit != "%" else f"{text}{unit}"


def _svg(width: float, height: float, title: str, desc: str, body: str, css: str = "") -> Markup:
    title_id, desc_id = _id("t"), _id("d")
    return Markup(
        f'<svg class="chart {css}" viewBox="0 0 {_n(width)} {_n(height)}" role="img" '
        f'aria-labelledby="{title_id} {desc_id}" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{title_id}">{escape(title)}</title><desc id="{desc_id}">{escape(desc)}</desc>'
        f"{body}</svg>"
    )


# ------------------------------------------------------------------ small inline charts


def progress_bar(progress: float | None, health: str | None = None, label: str = "") -> Markup:
    """A thin bar filled to `progress` (0..1), coloured by health, with the share as text."""
    share = 0.0 if progress is None else max(0.0, min(1.0, progress))
    colour = HEALTH_COLOURS.get(health, HEALTH_COLOURS[None])
    text = "no progress reported" if progress is None else f"{share:.0%}"
    body = (
        '<rect class="track" x="0" y="0" width="100" height="8" rx="4"/>'
        f'<rect x="0" y="0" width="{_n(share * 100)}" height="8" rx="4" fill="{colour}"/>'
    )
    return Markup(
        f'<span class="progress"><svg class="bar" viewBox="0 0 100 8" preserveAspectRatio="none" '
        f'aria-hidden="true" focusable="false">{body}</svg>'
        f'<span class="progress-text">{escape(text)}</span>'
        f'<span class="visually-hidden">{escape(label)} progress {escape(text)}</span></span>'
    )


def sparkline(values: Sequence[float], *, high: float = 10, label: str = "confidence") -> Markup:
    """A 0..`high` trend line of `values` (oldest first); the last value is marked."""
    width, height, pad = 120.0, 28.0, 3.0
    if not values:
        return Markup('<span class="muted">no check-ins</span>')
    step = (width - 2 * pad) / max(len(values) - 1, 1)
    points = [
        (pad + i * step, height - pad - (v / high) * (height - 2 * pad))
        for i, v in enumerate(values)
    ]
    line = " ".join(f"{_n(x)},{_n(y)}" for x, y in points)
    last_x, last_y = points[-1]
    body = (
        f'<line class="grid" x1="0" x2="{_n(width)}" y1="{_n(height / 2)}" y2="{_n(height / 2)}"/>'
        f'<polyline class="spark" points="{line}"/>'
        f'<circle class="spark-dot" cx="{_n(last_x)}" cy="{_n(last_y)}" r="2.5"/>'
    )
    shown = ", ".join(fmt_number(v) for v in values)
    return _svg(
        width,
        height,
        f"{label.capitalize()} over time",
        f"{label} at each check-in, oldest first: {shown}",
        body,
        "sparkline",
    )


def stacked_bar(segments: Sequence[tuple[str, int, str]], *, title: str) -> Markup:
    """One horizontal bar split into (label, count, colour) segments, with a legend."""
    total = sum(c for _, c, _ in segments) or 1
    width, height = 300.0, 18.0
    x = 0.0
    rects = []
    for label, amount, colour in segments:
        w = width * amount / total
        if w > 0:
            rects.append(
                f'<rect x="{_n(x)}" y="0" width="{_n(w)}" height="{_n(height)}" fill="{colour}">'
                f"<title>{escape(label)}: {amount}</title></rect>"
            )
        x += w
    desc = ", ".join(f"{label}: {amount}" for label, amount, _ in segments)
    return _svg(width, height, title, desc, "".join(rects), "stacked")


# ------------------------------------------------------------- a key result's progress


@dataclass(frozen=True)
class Point:
    """One check-in as the chart draws it."""

    effective_on: date
    value: float
    confidence: int
    superseded: bool
    label: str


class Measured(Protocol):
    """The key result a chart draws: what it is called and measured in, from where to where."""

    title: str
    unit: str
    baseline: float | None
    target: float | None


class Span(Protocol):
    """The days a chart spans: the cycle's."""

    @property
    def starts_on(self) -> date: ...
    @property
    def ends_on(self) -> date: ...


def key_result_chart(
    points: Sequence[Point], kr: Measured, cycle: Span, today: date | None = None
) -> Markup:
    """Values over the cycle: live check-ins joined by a line, superseded ones hollow and
    struck through, the target as a dashed line and the baseline as a dotted one."""
    title, unit, baseline, target = kr.title, kr.unit, kr.baseline, kr.target
    starts_on, ends_on = cycle.starts_on, cycle.ends_on
    width, height = 560.0, 210.0
    left, right, top, bottom = 48.0, 84.0, 22.0, 28.0
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [p.value for p in points] + [v for v in (baseline, target) if v is not None]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    if high == low:
        low, high = low - 1, high + 1
    margin = (high - low) * 0.08
    low, high = low - margin, high + margin
    days = max((ends_on - starts_on).days, 1)

    def x_of(day: date) -> float:
        return left + plot_w * min(max((day - starts_on).days / days, 0.0), 1.0)

    def y_of(value: float) -> float:
        return top + plot_h * (1 - (value - low) / (high - low))

    parts = [
        f'<rect class="plot" x="{_n(left)}" y="{_n(top)}" width="{_n(plot_w)}" '
        f'height="{_n(plot_h)}"/>'
    ]
    # Month ticks along the bottom.
    day = starts_on.replace(day=1)
    while day <= ends_on:
        if day >= starts_on:
            x = x_of(day)
            parts.append(
                f'<line class="grid" x1="{_n(x)}" x2="{_n(x)}" y1="{_n(top)}" '
                f'y2="{_n(top + plot_h)}"/><text class="axis" x="{_n(x)}" '
                f'y="{_n(height - 10)}" text-anchor="middle">{day:%b %d}</text>'
            )
        day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    for value in (low + margin, high - margin):
        parts.append(
            f'<text class="axis" x="{_n(left - 6)}" y="{_n(y_of(value) + 4)}" '
            f'text-anchor="end">{escape(fmt_number(round(value, 2)))}</text>'
        )
    if unit:
        parts.append(
            f'<text class="axis unit" x="{_n(left)}" y="{_n(top - 3)}">{escape(unit[:24])}</text>'
        )
    for line, name, css in ((baseline, "baseline", "baseline"), (target, "target", "target")):
        if line is None:
            continue
        y = y_of(line)
        parts.append(
            f'<line class="{css}" x1="{_n(left)}" x2="{_n(left + plot_w)}" y1="{_n(y)}" '
            f'y2="{_n(y)}"/><text class="{css}-label" x="{_n(left + plot_w + 6)}" '
            f'y="{_n(y + 4)}">{name} {escape(fmt_number(line))}</text>'
        )
    if today is not None and starts_on <= today <= ends_on:
        x = x_of(today)
        parts.append(
            f'<line class="today" x1="{_n(x)}" x2="{_n(x)}" y1="{_n(top)}" '
            f'y2="{_n(top + plot_h)}"><title>today</title></line>'
        )
    live = sorted((p for p in points if not p.superseded), key=lambda p: p.effective_on)
    if len(live) > 1:
        path = " ".join(f"{_n(x_of(p.effective_on))},{_n(y_of(p.value))}" for p in live)
        parts.append(f'<polyline class="series" points="{path}"/>')
    for p in points:
        x, y = x_of(p.effective_on), y_of(p.value)
        if p.superseded:
            parts.append(
                f'<g class="superseded"><circle cx="{_n(x)}" cy="{_n(y)}" r="4.5"/>'
                f'<line x1="{_n(x - 7)}" x2="{_n(x + 7)}" y1="{_n(y + 5)}" y2="{_n(y - 5)}"/>'
                f"<title>{escape(p.label)}</title></g>"
            )
        else:
            parts.append(
                f'<circle class="point" cx="{_n(x)}" cy="{_n(y)}" r="4">'
                f"<title>{escape(p.label)}</title></circle>"
            )
    if not points:
        parts.append(
            f'<text class="empty" x="{_n(left + plot_w / 2)}" y="{_n(top + plot_h / 2)}" '
            'text-anchor="middle">no check-ins yet</text>'
        )
    struck = sum(p.superseded for p in points)
    desc = (
        f"{len(live)} check-ins in force"
        + (f", {struck} superseded (struck through)" if struck else "")
        + (f"; target {fmt_number(target, unit)}" if target is not None else "")
        + (f"; baseline {fmt_number(baseline, unit)}" if baseline is not None else "")
        + (
            f"; latest {fmt_number(live[-1].value, unit)} on {live[-1].effective_on}"
            if live
            else ""
        )
    )
    return _svg(width, height, f"Progress of {title}", desc, "".join(parts), "kr-chart")


# ------------------------------------------------------------------ comparison charts


def grouped_bars(
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    title: str,
    unit: str = "",
    percent: bool = False,
    high: float | None = None,
    width: float = 300.0,
) -> Markup:
    """Horizontal bars: one group per category (a cycle), one bar per series in each group."""
    bar_h, gap, label_w = 16.0, 10.0, 74.0
    plot_w = width - label_w - 44
    group_h = bar_h * len(series) + gap
    legend_h = 20.0 if len(series) > 1 else 0.0
    height = legend_h + group_h * len(categories) + 4
    known = [v for _, values in series for v in values if v is not None]
    top = high if high is not None else max(known, default=0) or 1.0

    def shown(value: float | None) -> str:
        if value is None:
            return "–"
        return f"{value:.0%}" if percent else fmt_number(round(value, 2), unit)

    parts = []
    if len(series) > 1:
        x = label_w
        for i, (name, _) in enumerate(series):
            colour = SERIES_COLOURS[i % len(SERIES_COLOURS)]
            parts.append(
                f'<rect x="{_n(x)}" y="3" width="10" height="10" fill="{colour}"/>'
                f'<text class="legend" x="{_n(x + 14)}" y="12">{escape(name)}</text>'
            )
            x += 14 + 7.5 * len(name) + 12
    descs = []
    for c, category in enumerate(categories):
        y0 = legend_h + c * group_h
        parts.append(
            f'<text class="axis" x="{_n(label_w - 6)}" y="{_n(y0 + group_h / 2 + 2)}" '
            f'text-anchor="end">{escape(category)}</text>'
        )
        for i, (name, values) in enumerate(series):
            value = values[c] if c < len(values) else None
            colour = SERIES_COLOURS[i % len(SERIES_COLOURS)]
            w = 0.0 if value is None else plot_w * max(0.0, min(value / top, 1.0))
            y = y0 + i * bar_h
            parts.append(
                f'<rect x="{_n(label_w)}" y="{_n(y)}" width="{_n(w)}" height="{_n(bar_h - 2)}" '
                f'fill="{colour}"><title>{escape(category)} · {escape(name)}: '
                f"{escape(shown(value))}</title></rect>"
                f'<text class="value" x="{_n(label_w + w + 4)}" y="{_n(y + bar_h - 3)}">'
                f"{escape(shown(value))}</text>"
            )
            descs.append(f"{category} {name}: {shown(value)}")
    return _svg(width, height, title, "; ".join(descs), "".join(parts), "bars")
