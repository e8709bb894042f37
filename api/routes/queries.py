"""Queries over the read models: objectives, history, tree (as of), replay, diff, compare,
inbox and stale key results. Every one accepts `min_position` (read your writes); private
objectives the caller may not see are left out (api.visibility). The routes parse the query
string; the answers come from the query use cases (api/usecases/queries.py), which the pages
call too."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import Query, Response

from api import schemas as s
from api.deps import Instant, MinPositionDep
from api.routes import QueriesDep, problems, router

queries = router("queries")

Json = dict[str, Any]
Limit = Annotated[int, Query(ge=1, le=500, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=10**9, description="Items to skip.")]
Position = Annotated[
    int | None, Query(ge=0, le=2**62, description="A log position (a notification id).")
]
_READ = problems(404, 504)


# ------------------------------------------------------------------ objectives


@queries.get(
    "/objectives",
    response_model=s.ObjectivesPage,
    responses=_READ,
    summary="List objectives",
)
def list_objectives(
    reads: QueriesDep,
    _: MinPositionDep,
    cycle_id: Annotated[UUID | None, Query(description="Only this cycle's.")] = None,
    team_id: Annotated[UUID | None, Query(description="Only those this team owns.")] = None,
    owner_person_id: Annotated[UUID | None, Query(description="Only this person's.")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> s.ObjectivesPage:
    """Objectives in drafting order, as the alignment tree shows them (progress, health, score),
    without nesting."""
    return reads.objectives(cycle_id, team_id, owner_person_id, limit, offset)


@queries.get(
    "/objectives/{objective_id}/history",
    response_model=s.History,
    responses=_READ,
    summary="An objective's history",
)
def objective_history(
    objective_id: UUID,
    reads: QueriesDep,
    _: MinPositionDep,
) -> Json:
    """Its timeline (every event with actor, reason and a one-line summary) and each key
    result's check-ins, corrections included (bitemporal: effective_on and recorded_at)."""
    return reads.history(objective_id)


# ------------------------------------------------------------------------ tree


@queries.get(
    "/cycles/{cycle_id}/tree",
    response_model=s.Tree,
    responses=_READ,
    summary="The alignment tree (now, as of an instant, or at a position)",
)
def cycle_tree(
    cycle_id: UUID,
    reads: QueriesDep,
    _: MinPositionDep,
    as_of: Annotated[
        Instant | None, Query(description="RFC 3339 instant: the tree as it stood then.")
    ] = None,
    position: Position = None,
    team_id: Annotated[
        UUID | None, Query(description="Only this team, the teams below it and their people.")
    ] = None,
) -> s.Tree | Response:
    """Objectives nested by alignment (company → teams → people), with progress, health and
    scores. Give `as_of` or `position` (not both) for time travel."""
    found = reads.tree(cycle_id, as_of, position, team_id)
    if isinstance(found, bytes):
        return Response(content=found, media_type="application/json")
    return found


@queries.get(
    "/cycles/{cycle_id}/replay",
    response_model=s.Replay,
    responses=_READ,
    summary="Replay a cycle day by day or week by week",
)
def cycle_replay(
    cycle_id: UUID,
    reads: QueriesDep,
    _: MinPositionDep,
    step: Annotated[Literal["day", "week"], Query(description="Frame length.")] = "week",
) -> s.Replay:
    """One frame per day or week: the tree at its end and the events within it."""
    return reads.replay(cycle_id, step)


# ------------------------------------------------------------------------ diff


@queries.get(
    "/diff",
    response_model=s.Diff,
    responses=_READ,
    summary="What changed between two moments",
)
def tree_diff(
    reads: QueriesDep,
    _: MinPositionDep,
    from_: Annotated[
        Instant | None, Query(alias="from", description="RFC 3339 instant: the earlier moment.")
    ] = None,
    to: Annotated[
        Instant | None, Query(description="RFC 3339 instant: the later moment (default: now).")
    ] = None,
    from_position: Position = None,
    to_position: Position = None,
    cycle_id: Annotated[UUID | None, Query(description="Only this cycle's objectives.")] = None,
) -> Json:
    """Objectives added, abandoned, realigned, reassigned, retitled; status, score, target,
    baseline, weight and grade changes; confidence swings. Each change says who made it, why,
    and who approved it. Moments are instants (`from`, `to`) or log positions."""
    return reads.diff(from_, to, from_position, to_position, cycle_id)


# --------------------------------------------------------------------- compare


@queries.get(
    "/compare",
    response_model=s.Comparison,
    responses=_READ,
    summary="Compare cycles, per team",
)
def compare_cycles(
    reads: QueriesDep,
    _: MinPositionDep,
    cycles: Annotated[
        str,
        Query(
            description="Comma-separated cycle ids, e.g. `A,B,C` (one to eight).",
            examples=["0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d,6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"],
        ),
    ],
    team_id: Annotated[UUID | None, Query(description="Only this team (and below).")] = None,
) -> Json:
    """Per cycle and team: scores, share achieved, committed vs aspirational, targets moved,
    check-in cadence and confidence calibration."""
    return reads.compare(cycles, team_id)


# ---------------------------------------------------------------- inbox, stale


@queries.get("/inbox", response_model=s.Inbox, responses=_READ, summary="What waits on me")
def my_inbox(reads: QueriesDep, _: MinPositionDep) -> Json:
    """Objectives to review, amendments to decide, counter-proposals to answer."""
    return reads.inbox()


@queries.get(
    "/stale",
    response_model=s.StalePage,
    responses=_READ,
    summary="Key results without a recent check-in",
)
def stale_key_results(
    reads: QueriesDep,
    _: MinPositionDep,
    cycle_id: Annotated[UUID | None, Query(description="Only this cycle's.")] = None,
) -> s.StalePage:
    """Approved key results in active cycles silent for longer than their cycle's cadence,
    longest-silent first."""
    return reads.stale(cycle_id)
