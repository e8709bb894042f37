"""The alignment tree of a cycle: company → teams → people, filtered, now or as of an instant."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from api.web import data
from api.web.site import FormError, ViewerDep, nav, render, web

KINDS = ("committed", "aspirational")
STATES = (
    "draft",
    "in_review",
    "changes_requested",
    "countered",
    "approved",
    "amendment_pending",
    "graded",
    "abandoned",
)


@web.get("/tree")
def tree_page(
    request: Request,
    viewer: ViewerDep,
    cycle: str | None = None,
    team: str | None = None,
    person: str | None = None,
    kind: str | None = None,
    status: str | None = None,
    as_of: str | None = None,
    position: int | None = None,
    seen: int | None = None,
) -> HTMLResponse:
    viewer.wait_for(seen)
    chosen, all_cycles = data.pick_cycle(viewer, cycle)
    all_teams = data.teams(viewer)
    if team and team not in {t.id for t in all_teams}:
        team = None
    problem = None
    try:
        instant = data.parse_local(as_of)
    except FormError as error:
        instant, problem = None, str(error)
    if position is not None and (position < 0 or instant is not None):
        position, problem = None, "Give a moment or a position, not both."
    roots: list[dict[str, Any]] = []
    if chosen is not None:
        roots = data.tree(viewer, chosen.id, as_of=instant, position=position, team_id=team or None)

    def keep(node: dict[str, Any]) -> bool:
        return (
            (not person or node.get("owner_person_id") == person)
            and (not kind or node.get("kind") == kind)
            and (not status or node.get("state") == status)
        )

    filtered = bool(person or kind or status)
    if filtered:
        roots = data.prune(roots, keep)
    shown = [n for n, _ in data.walk(roots) if not n.get("context")]
    return render(
        request,
        "tree.html",
        viewer,
        cycle=chosen,
        cycles=all_cycles,
        teams=all_teams,
        people=data.people(viewer),
        kinds=KINDS,
        states=STATES,
        roots=roots,
        shown=len(shown),
        filters={
            "team": team or "",
            "person": person or "",
            "kind": kind or "",
            "status": status or "",
            "as_of": as_of or "",
        },
        instant=instant,
        position=position,
        problem=problem,
        confidence=data.objective_confidence,
    )


nav("Tree", "/tree", order=10)
