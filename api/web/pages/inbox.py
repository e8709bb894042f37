"""The approver's inbox (reviews, amendments, counter-proposals waiting on the viewer) and the
list of stale key results (no check-in for longer than the cycle's cadence)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import Request
from fastapi.responses import HTMLResponse

from api.usecases.queries import QueryUseCases
from api.web import data
from api.web.site import FreshViewerDep, Viewer, ViewerDep, nav, render, web

SECTIONS = (
    ("review", "Objectives to review"),
    ("amendment", "Amendments to decide"),
    ("counter_proposal", "Counter-proposals to answer"),
)


@web.get("/inbox")
def inbox_page(request: Request, viewer: FreshViewerDep) -> HTMLResponse:
    readmodels = viewer.services.readmodels
    inbox: dict[str, Any] = {"items": [], "total": 0}
    if readmodels is not None:
        inbox = QueryUseCases(viewer.caller).inbox()
    groups = [
        (kind, title, [i for i in inbox["items"] if i["kind"] == kind]) for kind, title in SECTIONS
    ]
    return render(request, "inbox.html", viewer, groups=groups, total=inbox["total"])


@web.get("/stale")
def stale_page(request: Request, viewer: ViewerDep, cycle: str | None = None) -> HTMLResponse:
    chosen, all_cycles = data.pick_cycle(viewer, cycle)
    items: list[dict[str, Any]] = []
    failing: list[dict[str, Any]] = []
    readmodels = viewer.services.readmodels
    if readmodels is not None and chosen is not None:
        found = QueryUseCases(viewer.caller).stale(UUID(chosen.id))
        items, failing = found.items, found.failing_sources
    return render(
        request,
        "stale.html",
        viewer,
        cycle=chosen,
        cycles=all_cycles,
        items=items,
        failing=failing,
    )


def _waiting(viewer: Viewer) -> int | None:
    readmodels = viewer.services.readmodels
    if readmodels is None:
        return None
    return int(readmodels.inbox(viewer.principal.person_id).get("total", 0)) or None


nav("Inbox", "/inbox", order=60, badge=_waiting)
nav("Stale", "/stale", order=70)
