"""Cycle comparison: two or more cycles side by side (optionally one team): a table, SVG
charts and per-team rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from fastapi import Query, Request
from fastapi.responses import HTMLResponse

from api.web import charts, data
from api.web.site import ViewerDep, nav, render, web

Json = dict[str, Any]

METRICS: tuple[tuple[str, str, str], ...] = (
    # (label, path into a summary, format)
    ("Objectives", "objectives", "int"),
    ("Abandoned", "abandoned", "int"),
    ("Key results", "key_results", "int"),
    ("Mean score", "mean_score", "score"),
    ("Share achieved", "achieved_share", "percent"),
    ("Committed: mean score", "committed.mean_score", "score"),
    ("Committed: share achieved", "committed.achieved_share", "percent"),
    ("Aspirational: mean score", "aspirational.mean_score", "score"),
    ("Aspirational: share achieved", "aspirational.achieved_share", "percent"),
    ("Amendments proposed", "amendments_proposed", "int"),
    ("Amendments approved", "amendments_approved", "int"),
    ("Amendments rejected", "amendments_rejected", "int"),
    ("Targets eased", "targets_eased", "int"),
    ("Targets raised", "targets_raised", "int"),
    ("Check-ins per key result per week", "check_ins_per_key_result_per_week", "rate"),
    ("Stale key results", "stale_key_results", "int"),
    ("Confidence calibration (Brier, lower is better)", "brier_score", "score"),
)


@dataclass(frozen=True)
class Figure:
    """One chart of the comparison: a bar a cycle for each (legend, path into a summary)."""

    heading: str
    series: tuple[tuple[str, str], ...]
    title: str | None = None
    """The chart's own title, when it is not the heading."""
    percent: bool = False
    high: float | None = None


FIGURES: tuple[Figure, ...] = (
    Figure("Mean score", (("mean score", "mean_score"),), high=1.0),
    Figure("Share achieved", (("share achieved", "achieved_share"),), percent=True, high=1.0),
    Figure(
        "Committed vs aspirational: mean score",
        (("committed", "committed.mean_score"), ("aspirational", "aspirational.mean_score")),
        high=1.0,
    ),
    Figure(
        "Committed vs aspirational: share achieved",
        (
            ("committed", "committed.achieved_share"),
            ("aspirational", "aspirational.achieved_share"),
        ),
        percent=True,
        high=1.0,
    ),
    Figure(
        "Amendments: targets eased vs raised",
        (("eased", "targets_eased"), ("raised", "targets_raised")),
    ),
    Figure(
        "Check-ins per key result per week",
        (("check-ins", "check_ins_per_key_result_per_week"),),
        title="Check-in cadence (per key result per week)",
    ),
    Figure("Stale key results", (("stale", "stale_key_results"),)),
    Figure(
        "Confidence calibration (Brier score, lower is better)",
        (("Brier score", "brier_score"),),
        high=1.0,
    ),
)


def value_at(summary: Json, path: str) -> Any:
    current: Any = summary
    for part in path.split("."):
        current = current.get(part) if isinstance(current, dict) else None
    return current


def shown(value: Any, kind: str) -> str:
    if value is None:
        return "–"
    if kind == "percent":
        return f"{value:.0%}"
    if kind == "score":
        return f"{value:.2f}"
    if kind == "rate":
        return f"{value:.2f}"
    return str(value)


@web.get("/compare")
def compare_page(
    request: Request,
    viewer: ViewerDep,
    cycles: Annotated[list[str] | None, Query()] = None,
    team: str | None = None,
) -> HTMLResponse:
    all_cycles = data.cycles(viewer)
    known = {c.id: c for c in all_cycles}
    chosen = [c for c in dict.fromkeys(cycles or []) if c in known][:8]
    if not chosen:
        chosen = [c.id for c in all_cycles[-3:]]
    all_teams = data.teams(viewer)
    if team and team not in {t.id for t in all_teams}:
        team = None
    readmodels = viewer.services.readmodels
    result: Json = {"cycles": []}
    if readmodels is not None and chosen:
        result = readmodels.compare([UUID(c) for c in chosen], UUID(team) if team else None)
    columns = result["cycles"]
    names = [known[c["cycle_id"]].name if c["cycle_id"] in known else "?" for c in columns]
    orgs = [c["organisation"] for c in columns]
    rows = [
        {
            "label": label,
            "cells": [shown(value_at(o, path), kind) for o in orgs],
        }
        for label, path, kind in METRICS
    ]

    def series(path: str) -> list[float | None]:
        return [value_at(o, path) for o in orgs]

    figures = [
        (
            figure.heading,
            charts.grouped_bars(
                names,
                [(legend, series(path)) for legend, path in figure.series],
                title=figure.title or figure.heading,
                percent=figure.percent,
                high=figure.high,
            ),
        )
        for figure in FIGURES
    ]
    team_names: list[str] = []
    by_team: dict[str, dict[int, Json]] = {}
    for index, column in enumerate(columns):
        for summary in column["teams"]:
            name = summary.get("team_name") or viewer.names.team(summary.get("team_id"))
            if name not in by_team:
                team_names.append(name)
                by_team[name] = {}
            by_team[name][index] = summary
    team_rows = [
        {
            "team": name,
            "cells": [by_team[name].get(i) for i in range(len(columns))],
        }
        for name in team_names
    ]
    team_chart = None
    if team_names:
        team_chart = charts.grouped_bars(
            team_names,
            [
                (names[i], [value_at(by_team[t].get(i) or {}, "mean_score") for t in team_names])
                for i in range(len(columns))
            ],
            title="Mean score per team",
            high=1.0,
            width=620.0,
        )
    return render(
        request,
        "compare.html",
        viewer,
        cycles=all_cycles,
        chosen=chosen,
        teams=all_teams,
        team=team or "",
        column_names=names,
        rows=rows,
        figures=figures,
        team_rows=team_rows,
        team_chart=team_chart,
        shown=shown,
    )


nav("Compare", "/compare", order=40)
