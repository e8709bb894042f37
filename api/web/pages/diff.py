"""The diff: what changed in a cycle's tree between two moments (typed, or bookmarks such as
"cycle start" and "mid-cycle review")."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import Query, Request
from fastapi.responses import HTMLResponse

from api.deps import ReadAt, Span
from api.usecases.queries import QueryUseCases
from api.web import data
from api.web.site import FormError, ViewerDep, nav, render, web

KIND_LABELS = {
    "objective_added": "objective added",
    "objective_abandoned": "objective abandoned",
    "key_result_added": "key result added",
    "key_result_removed": "key result removed",
}


@web.get("/diff")
def diff_page(
    request: Request,
    viewer: ViewerDep,
    cycle: str | None = None,
    from_mark: str | None = None,
    to_mark: str | None = None,
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: str | None = None,
    kind: str | None = None,
) -> HTMLResponse:
    chosen, all_cycles = data.pick_cycle(viewer, cycle)
    context: dict[str, Any] = {"cycle": chosen, "cycles": all_cycles, "result": None}
    if chosen is None:
        return render(request, "diff.html", viewer, **context)
    now = datetime.now(UTC)
    marks = data.bookmarks(chosen, now)
    by_key = {key: instant for key, _, instant in marks}
    problem = None
    try:
        start = data.parse_local(from_) if from_ else by_key.get(from_mark or "start")
        end = data.parse_local(to) if to else by_key.get(to_mark or "mid")
    except FormError as error:
        problem, start, end = str(error), None, None
    if start is None:
        start = marks[0][2]
    if end is None:
        end = now
    result = None
    if problem is None and viewer.services.readmodels is not None:
        if start > end:
            start, end = end, start
        reads = QueryUseCases(viewer.caller)
        result = reads.diff(Span(ReadAt(start), ReadAt(end)), UUID(chosen.id))
    changes = (result or {}).get("changes", [])
    kinds = sorted({c["kind"] for c in changes})
    if kind:
        changes = [c for c in changes if c["kind"] == kind]
    context.update(
        marks=marks,
        from_mark=from_mark or ("" if from_ else "start"),
        to_mark=to_mark or ("" if to else "mid"),
        start=start,
        end=end,
        from_value=from_ or "",
        to_value=to or "",
        result=result,
        changes=changes,
        kinds=kinds,
        kind=kind or "",
        counts=(result or {}).get("counts", {}),
        kind_label=lambda k: KIND_LABELS.get(k, k.replace("_", " ")),
        problem=problem,
    )
    return render(request, "diff.html", viewer, **context)


nav("Diff", "/diff", order=30)
