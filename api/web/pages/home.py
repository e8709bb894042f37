"""Home: the current cycle's health at a glance."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from fastapi import Request
from fastapi.responses import HTMLResponse

from api.deps import ReadAt, Span
from api.usecases.queries import QueryUseCases
from api.web import charts, data
from api.web.site import FreshViewerDep, nav, render, web

HEALTHS = (
    ("on_track", "on track"),
    ("at_risk", "at risk"),
    ("off_track", "off track"),
    (None, "no signal yet"),
)


def _health_bar(nodes: list[dict[str, Any]], title: str) -> Any:
    counts = {key: 0 for key, _ in HEALTHS}
    for node in nodes:
        counts[node.get("health")] = counts.get(node.get("health"), 0) + 1
    return charts.stacked_bar(
        [(label, counts[key], charts.HEALTH_COLOURS[key]) for key, label in HEALTHS], title=title
    ), counts


def _mean_progress(nodes: list[dict[str, Any]]) -> float | None:
    values = [n["progress"] for n in nodes if n.get("progress") is not None]
    return sum(values) / len(values) if values else None


@web.get("/")
def home(request: Request, viewer: FreshViewerDep) -> HTMLResponse:
    cycle, all_cycles = data.pick_cycle(viewer, None)
    context: dict[str, Any] = {"cycle": cycle, "cycles": all_cycles}
    if cycle is None or viewer.services.readmodels is None:
        return render(request, "home.html", viewer, **context)
    now = datetime.now(UTC)
    roots = data.tree(viewer, cycle.id)
    nodes = [node for node, _ in data.walk(roots) if node["state"] != "abandoned"]
    tracked = [n for n in nodes if n["status"] == "approved"]
    bar, counts = _health_bar(tracked, f"Health of {len(tracked)} approved objectives")
    states = Counter(node["state"] for node in nodes)
    days = max((cycle.ends_on - cycle.starts_on).days, 1)
    elapsed = min(max((now.date() - cycle.starts_on).days / days, 0.0), 1.0)
    team_rows = []
    for team in data.teams(viewer):
        if team.depth > 1:
            continue
        scoped = [
            n
            for n, _ in data.walk(data.tree(viewer, cycle.id, team_id=team.id))
            if n["status"] == "approved"
        ]
        if scoped:
            team_bar, team_counts = _health_bar(scoped, f"Health of {team.name}'s objectives")
            team_rows.append(
                {
                    "team": team,
                    "objectives": len(scoped),
                    "progress": _mean_progress(scoped),
                    "bar": team_bar,
                    "counts": team_counts,
                }
            )
    reads = QueryUseCases(viewer.caller)
    stale = reads.stale(UUID(cycle.id)).items
    inbox = reads.inbox()
    week_ago = now - timedelta(days=7)
    recent = reads.diff(Span(ReadAt(week_ago)), UUID(cycle.id))
    changes = sorted(
        recent.get("changes", []),
        key=lambda c: (c.get("by") or {}).get("position", 0),
        reverse=True,
    )
    me = str(viewer.principal.person_id)
    mine = [n for n in nodes if n.get("owner_person_id") == me]
    context.update(
        nodes=nodes,
        tracked=tracked,
        health_bar=bar,
        health_counts=counts,
        healths=HEALTHS,
        states=states,
        progress=_mean_progress(tracked),
        elapsed=elapsed,
        team_rows=team_rows,
        stale=stale,
        inbox=inbox,
        changes=changes[:10],
        change_count=len(changes),
        mine=mine,
        week_ago=week_ago,
    )
    return render(request, "home.html", viewer, **context)


nav("Home", "/", order=0)
