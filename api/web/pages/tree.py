"""The alignment tree of a cycle: company → teams → people, filtered, now or as of an instant."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse

from api.deps import ReadAt
from api.web import data
from api.web.site import FormError, FreshViewerDep, nav, render, web

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


@dataclass(frozen=True)
class Narrowing:
    """Whose objectives the tree shows, of which kind, in which state (a match keeps its
    ancestors, shown as context)."""

    person: str | None
    kind: str | None
    status: str | None

    def __bool__(self) -> bool:
        return bool(self.person or self.kind or self.status)

    def keep(self, node: dict[str, Any]) -> bool:
        return (
            (not self.person or node.get("owner_person_id") == self.person)
            and (not self.kind or node.get("kind") == self.kind)
            and (not self.status or node.get("state") == self.status)
        )


async def _narrowing(
    person: str | None = None, kind: str | None = None, status: str | None = None
) -> Narrowing:
    return Narrowing(person, kind, status)


@web.get("/tree")
def tree_page(
    request: Request,
    viewer: FreshViewerDep,
    only: Annotated[Narrowing, Depends(_narrowing)],
    cycle: str | None = None,
    team: str | None = None,
    as_of: str | None = None,
    position: int | None = None,
) -> HTMLResponse:
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
        roots = data.tree(viewer, chosen.id, ReadAt(instant, position), team or None)
    if only:
        roots = data.prune(roots, only.keep)
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
            "person": only.person or "",
            "kind": only.kind or "",
            "status": only.status or "",
            "as_of": as_of or "",
        },
        instant=instant,
        position=position,
        problem=problem,
        confidence=data.objective_confidence,
    )


nav("Tree", "/tree", order=10)
