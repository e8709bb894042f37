"""SVG for the strategy pages, drawn on the server like `api.web.charts`: a KPI's history over
its threshold bands, and the strategy map (perspectives as rows, themes, objectives and KPIs
placed in them, alignment and "drives" links drawn between them).

Every chart has a title and a description; the pages also list the same content as text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

from api.web.charts import _n, _svg, fmt_number

COLOURS = {"green": "#1a7f37", "amber": "#9a6700", "red": "#cf222e", "grey": "#6e7781"}
BANDS = {"green": "#dafbe1", "amber": "#fff8c5", "red": "#ffebe9"}
Json = dict[str, Any]


def colour(name: str | None) -> str:
    return COLOURS.get(name or "grey", COLOURS["grey"])


# ------------------------------------------------------------------- KPI history


def kpi_chart(kpi: Json, *, width: float = 560.0, height: float = 200.0) -> Markup:
    """Live measurements by period over the green / amber / red bands of the thresholds in
    force; superseded measurements are hollow and struck through."""
    left, right, top, bottom = 52.0, 20.0, 18.0, 30.0
    plot_w, plot_h = width - left - right, height - top - bottom
    history: Sequence[Json] = kpi.get("history", [])
    corrections: Sequence[Json] = kpi.get("corrections", [])
    green, amber = float(kpi["green"]), float(kpi["amber"])
    values = [float(m["value"]) for m in (*history, *corrections)] + [green, amber]
    low, high = min(values), max(values)
    if high == low:
        low, high = low - 1, high + 1
    margin = (high - low) * 0.12
    low, high = low - margin, high + margin
    periods = sorted({m["period"] for m in (*history, *corrections)})
    slots = max(len(periods), 1)

    def x_of(period: str) -> float:
        index = periods.index(period) if period in periods else 0
        return left + plot_w * (index + 0.5) / slots

    def y_of(value: float) -> float:
        return top + plot_h * (1 - (value - low) / (high - low))

    up = kpi["direction"] == "increase"
    bands = (
        (("green", green, high), ("amber", amber, green), ("red", low, amber))
        if up
        else (("green", low, green), ("amber", green, amber), ("red", amber, high))
    )
    parts = []
    for name, lower, upper in bands:
        y1, y2 = y_of(max(lower, low)), y_of(min(upper, high))
        parts.append(
            f'<rect class="band band-{name}" x="{_n(left)}" y="{_n(y2)}" width="{_n(plot_w)}" '
            f'height="{_n(max(y1 - y2, 0))}" fill="{BANDS[name]}"><title>{name}</title></rect>'
        )
    for value, name in ((green, "green"), (amber, "amber")):
        y = y_of(value)
        parts.append(
            f'<line class="threshold" x1="{_n(left)}" x2="{_n(left + plot_w)}" y1="{_n(y)}" '
            f'y2="{_n(y)}" stroke="{COLOURS[name]}"/>'
            f'<text class="axis" x="{_n(left - 6)}" y="{_n(y + 4)}" text-anchor="end">'
            f"{escape(fmt_number(value))}</text>"
        )
    step = max(1, len(periods) // 8)
    for i, period in enumerate(periods):
        if i % step == 0 or i == len(periods) - 1:
            parts.append(
                f'<text class="axis" x="{_n(x_of(period))}" y="{_n(height - 10)}" '
                f'text-anchor="middle">{escape(period)}</text>'
            )
    if len(history) > 1:
        line = " ".join(f"{_n(x_of(m['period']))},{_n(y_of(float(m['value'])))}" for m in history)
        parts.append(f'<polyline class="series" points="{line}"/>')

    def mark(m: Json) -> tuple[float, float, str]:
        """Where a measurement stands, and what its tooltip says first."""
        label = f"{escape(m['period'])}: {escape(fmt_number(m['value'], kpi['unit']))}"
        return x_of(m["period"]), y_of(float(m["value"])), label

    for m in corrections:
        x, y, label = mark(m)
        parts.append(
            f'<g class="superseded"><circle cx="{_n(x)}" cy="{_n(y)}" r="4.5"/>'
            f'<line x1="{_n(x - 7)}" x2="{_n(x + 7)}" y1="{_n(y + 5)}" y2="{_n(y - 5)}"/>'
            f"<title>{label} (superseded)</title></g>"
        )
    for m in history:
        x, y, label = mark(m)
        status = escape(m.get("status") or "")
        parts.append(
            f'<circle class="point status-{escape(m.get("status") or "grey")}" cx="{_n(x)}" '
            f'cy="{_n(y)}" r="4.5"><title>{label} ({status})</title></circle>'
        )
    if not history:
        parts.append(
            f'<text class="empty" x="{_n(left + plot_w / 2)}" y="{_n(top + plot_h / 2)}" '
            'text-anchor="middle">no measurements yet</text>'
        )
    desc = (
        (
            ", ".join(f"{m['period']}: {fmt_number(m['value'], kpi['unit'])}" for m in history)
            or "no measurements"
        )
        + f"; green {'at or above' if up else 'at or below'} {fmt_number(green)}, amber "
        + (f"{'at or above' if up else 'at or below'} {fmt_number(amber)}")
    )
    return _svg(width, height, f"{kpi['name']} over time", desc, "".join(parts), "kpi-chart")


# --------------------------------------------------------------------- the map


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float

    @property
    def centre(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y + self.h / 2


def _clip(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: chars - 1] + "…"


def strategy_map_svg(data: Json, *, width: float = 1180.0) -> Markup:
    """Rows of perspectives; in each, a column per theme (its objectives and KPIs inside), and
    one for the objectives placed by their own perspective. Links: alignment (grey), "drives"
    between themes (blue arrows), objectives to the KPIs they follow (dashed)."""
    label_w, pad, item_h, gap = 130.0, 10.0, 26.0, 6.0
    rows: Sequence[Json] = data.get("rows", [])
    boxes: dict[str, Box] = {}
    parts: list[str] = []
    y = 8.0
    for row in rows:
        columns: list[tuple[Json | None, list[Json], list[Json]]] = []
        for theme in row["themes"]:
            ids = set(theme["objective_ids"])
            kpi_ids = set(theme["kpi_ids"])
            columns.append(
                (
                    theme,
                    [o for o in row["objectives"] if o["objective_id"] in ids],
                    [k for k in row["kpis"] if k["kpi_id"] in kpi_ids],
                )
            )
        loose = [o for o in row["objectives"] if not o.get("theme_id")]
        loose_kpis = [k for k in row["kpis"] if not k.get("theme_id")]
        if loose or loose_kpis or not columns:
            columns.append((None, loose, loose_kpis))
        tallest = max(len(objs) + len(kpis) for _, objs, kpis in columns)
        row_h = max(70.0, 34 + tallest * (item_h + gap) + pad)
        parts.append(
            f'<rect class="row" x="0" y="{_n(y)}" width="{_n(width)}" height="{_n(row_h)}" '
            f'rx="6"/><text class="row-label" x="{_n(pad)}" y="{_n(y + 22)}">'
            f"{escape(_clip(row['name'], 16))}</text>"
        )
        col_w = (width - label_w - pad) / len(columns)
        for c, (theme, objectives, kpis) in enumerate(columns):
            x = label_w + c * col_w
            box = Box(x + 4, y + 6, col_w - 8, row_h - 12)
            name = theme["name"] if theme else "other objectives"
            stroke = colour(theme["colour"]) if theme else "#d0d7de"
            css = "theme" if theme else "theme loose"
            parts.append(
                f'<g class="{css}"><rect x="{_n(box.x)}" y="{_n(box.y)}" width="{_n(box.w)}" '
                f'height="{_n(box.h)}" rx="6" stroke="{stroke}"/>'
                f'<text class="theme-label" x="{_n(box.x + 8)}" y="{_n(box.y + 17)}">'
                f"{escape(_clip(name, int(box.w / 7)))}</text>"
                + (
                    f"<title>{escape(theme['name'])}: {escape(theme['colour'])}</title>"
                    if theme
                    else ""
                )
                + "</g>"
            )
            if theme:
                boxes[theme["theme_id"]] = box
            item_y = box.y + 26
            chars = int((box.w - 50) / 6.4)
            for o in objectives:
                item = Box(box.x + 8, item_y, box.w - 40, item_h)
                boxes[o["objective_id"]] = item
                parts.append(
                    f'<a href="/objectives/{escape(o["objective_id"])}"><g class="objective">'
                    f'<rect x="{_n(item.x)}" y="{_n(item.y)}" width="{_n(item.w)}" '
                    f'height="{_n(item.h)}" rx="4"/>'
                    f'<circle cx="{_n(item.x + 10)}" cy="{_n(item.y + item.h / 2)}" r="5" '
                    f'fill="{colour(o["colour"])}"/>'
                    f'<text x="{_n(item.x + 20)}" y="{_n(item.y + 17)}">'
                    f"{escape(_clip(o['title'], chars))}</text>"
                    f"<title>{escape(o['title'])} ({escape(o['colour'])})</title></g></a>"
                )
                item_y += item_h + gap
            for k in kpis:
                item = Box(box.x + 8, item_y, box.w - 40, item_h)
                boxes[k["kpi_id"]] = item
                value = fmt_number(k.get("current_value"), k.get("unit", ""))
                star = "★ " if k.get("north_star") else ""
                parts.append(
                    f'<a href="/kpis/{escape(k["kpi_id"])}"><g class="kpi">'
                    f'<rect x="{_n(item.x)}" y="{_n(item.y)}" width="{_n(item.w)}" '
                    f'height="{_n(item.h)}" rx="13" stroke="{colour(k["colour"])}"/>'
                    f'<text x="{_n(item.x + 10)}" y="{_n(item.y + 17)}">'
                    f"{escape(_clip(star + k['name'] + ': ' + value, chars + 2))}</text>"
                    f"<title>KPI {escape(k['name'])}: {escape(value)} ({escape(k['colour'])})"
                    "</title></g></a>"
                )
                item_y += item_h + gap
        y += row_h + 8
    height = y
    arrows = []
    for link in data.get("links", []):
        source, target = boxes.get(link["source"]), boxes.get(link["target"])
        if source is None or target is None:
            continue
        (x1, y1), (x2, y2) = source.centre, target.centre
        if link["kind"] == "drives":
            y1, y2 = source.y, target.y + target.h
            arrows.append(
                f'<path class="link drives" d="M{_n(x1)},{_n(y1)} C{_n(x1)},{_n(y1 - 30)} '
                f'{_n(x2)},{_n(y2 + 30)} {_n(x2)},{_n(y2)}" marker-end="url(#arrow)">'
                "<title>drives</title></path>"
            )
        else:
            # Along the right edges, bulging right, so the lines stay off the titles.
            css = "aligns" if link["kind"] == "aligns_to" else "measured"
            x1, x2 = source.x + source.w - 6, target.x + target.w - 6
            bulge = max(x1, x2) + 24
            arrows.append(
                f'<path class="link {css}" d="M{_n(x1)},{_n(y1)} C{_n(bulge)},{_n(y1)} '
                f'{_n(bulge)},{_n(y2)} {_n(x2)},{_n(y2)}"><title>'
                f"{escape(link['kind'].replace('_', ' '))}</title></path>"
            )
    defs = (
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#0969da"/></marker></defs>'
    )
    placed = sum(len(r["objectives"]) for r in rows)
    desc = (
        f"{len(rows)} perspectives, {sum(len(r['themes']) for r in rows)} themes, "
        f"{placed} objectives and {sum(len(r['kpis']) for r in rows)} KPIs placed; "
        f"{len(arrows)} links drawn"
    )
    body = defs + "".join(parts) + f'<g class="links">{"".join(arrows)}</g>'
    return _svg(width, height, "Strategy map", desc, body, "strategy-map")
