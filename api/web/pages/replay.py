"""The quarter replay: a slider and play/pause stepping the tree through a cycle day by day or
week by week, with what changed in each step (who, what, why).

Frames come from the read models' replay, computed once per cycle, step and log position and
kept in a small cache (so stepping is instant); the API's visibility rules then hide private
objectives from viewers who may not see them, frame by frame.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from fastapi import Request
from fastapi.responses import HTMLResponse

from api import policy, visibility
from api.web import data
from api.web.site import PageNotFound, Viewer, ViewerDep, fragment, nav, render, web

Json = dict[str, Any]
STEPS = ("week", "day")
_CACHE: OrderedDict[tuple[str, str, int], list[Json]] = OrderedDict()
_CACHE_SIZE = 6
_LOCK = threading.Lock()


def frames(viewer: Viewer, cycle_id: str, step: str) -> list[Json]:
    """The replay's frames as the viewer may see them."""
    readmodels = viewer.services.readmodels
    if readmodels is None:
        return []
    key = (cycle_id, step, readmodels.caught_up_position())
    with _LOCK:
        found = _CACHE.get(key)
        if found is not None:
            _CACHE.move_to_end(key)
    if found is None:
        found = readmodels.replay(UUID(cycle_id), step)
        with _LOCK:
            _CACHE[key] = found
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
    return _visible(viewer, found)


def _visible(viewer: Viewer, all_frames: list[Json]) -> list[Json]:
    """`api.visibility` over each frame, as the API's replay query applies it."""
    principal = viewer.principal
    readmodels = viewer.services.readmodels
    if policy.reads_everything(principal) or readmodels is None:
        return all_frames
    objectives = readmodels.objectives()
    with viewer.services.directory.current() as directory:
        visible = visibility.viewer(directory, principal)
        hidden = visibility.hidden_ids(objectives, visible)
        return [
            {
                **frame,
                "tree": visibility.prune_tree(frame.get("tree", []), visible),
                "events": visibility.without(frame.get("events", []), hidden),
            }
            for frame in all_frames
        ]


def _frame_context(all_frames: list[Json], index: int, step: str) -> dict[str, Any]:
    frame = all_frames[index]
    nodes = [n for n, _ in data.walk(frame["tree"])]
    progress = [
        n["progress"] for n in nodes if n.get("progress") is not None and n["status"] == "approved"
    ]
    changed = {e.get("objective_id") for e in frame["events"] if e.get("objective_id")}
    states = Counter(node["state"] for node in nodes)
    return {
        "frame": frame,
        "index": index,
        "count": len(all_frames),
        "step": step,
        "objectives": len(nodes),
        "approved": sum(1 for n in nodes if n["status"] == "approved"),
        "mean_progress": sum(progress) / len(progress) if progress else None,
        "states": states,
        "changed": changed,
        "confidence": data.objective_confidence,
    }


def _pick(
    viewer: Viewer, cycle: str | None, step: str, frame: int | None
) -> tuple[data.CycleInfo | None, list[data.CycleInfo], list[Json], int]:
    if step not in STEPS:
        step = "week"
    chosen, all_cycles = data.pick_cycle(viewer, cycle)
    if chosen is None:
        return None, all_cycles, [], 0
    found = frames(viewer, chosen.id, step)
    if frame is None:
        frame = _current_frame(found)
    index = max(0, min(frame, len(found) - 1))
    return chosen, all_cycles, found, index


def _current_frame(found: list[Json]) -> int:
    """The step that contains now (the last one for a cycle that is over)."""
    now = datetime.now(UTC).isoformat()
    for index, frame in enumerate(found):
        if str(frame["boundary"]) >= now:
            return index
    return len(found) - 1


@web.get("/replay")
def replay_page(
    request: Request,
    viewer: ViewerDep,
    cycle: str | None = None,
    step: str = "week",
    frame: int | None = None,
) -> HTMLResponse:
    step = step if step in STEPS else "week"
    chosen, all_cycles, found, index = _pick(viewer, cycle, step, frame)
    context: dict[str, Any] = {"cycle": chosen, "cycles": all_cycles, "steps": STEPS, "step": step}
    context["frames"] = found
    if found:
        context.update(_frame_context(found, index, step))
    return render(request, "replay.html", viewer, **context)


@web.get("/replay/frame")
def replay_frame(viewer: ViewerDep, cycle: str, step: str = "week", frame: int = 0) -> HTMLResponse:
    """One frame's tree and changes, for the slider and the play button."""
    step = step if step in STEPS else "week"
    chosen, _, found, index = _pick(viewer, cycle, step, frame)
    if chosen is None or not found:
        raise PageNotFound("replay frame")
    return fragment(
        "_replay_frame.html", viewer, cycle=chosen, **_frame_context(found, index, step)
    )


nav("Replay", "/replay", order=20)
