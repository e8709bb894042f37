"""Queries over the read models: objectives, history, tree (as of), replay, diff, compare,
inbox and stale key results. Every one accepts `min_position` (read your writes); private
objectives the caller may not see are left out (api.visibility)."""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import Query, Response

from api import policy, positions, visibility
from api import schemas as s
from api.deps import (
    Instant,
    MinPositionDep,
    PrincipalDep,
    ReadModelsDep,
    Services,
    ServicesDep,
    visible_objective,
)
from api.errors import ApiError, invalid, not_found
from api.policy import Principal
from api.routes import problems, router
from infra import answer
from infra.readmodels import ReadModels

queries = router("queries")

Json = dict[str, Any]
Limit = Annotated[int, Query(ge=1, le=500, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=10**9, description="Items to skip.")]
Position = Annotated[
    int | None, Query(ge=0, le=2**62, description="A log position (a notification id).")
]
_READ = problems(404, 504)


@contextmanager
def _visible(services: Services, principal: Principal) -> Iterator[visibility.Visible]:
    """Whether the caller may see an objective (held while the directory is held still)."""
    if policy.reads_everything(principal):
        yield lambda _: True
        return
    with services.directory.current() as directory:
        yield visibility.viewer(directory, principal)


def _hidden(services: Services, principal: Principal, readmodels: ReadModels) -> set[str]:
    """Ids of the private objectives the caller may not see (empty for admins and auditors)."""
    if policy.reads_everything(principal):
        return set()
    objectives = readmodels.objectives()
    with _visible(services, principal) as visible:
        return visibility.hidden_ids(objectives, visible)


def _cycle(services: Services, cycle_id: UUID, field: str | None = None) -> None:
    with services.directory.current() as directory:
        known = cycle_id in directory.cycles
    if not known:
        raise not_found("cycle", cycle_id, field)


def _team(services: Services, team_id: UUID | None) -> None:
    if team_id is None:
        return
    with services.directory.current() as directory:
        known = team_id in directory.teams
    if not known:
        raise not_found("team", team_id, "team_id")


def _position(
    services: Services, readmodels: ReadModels, position: int | None, field: str
) -> int | None:
    """A position the read models have reached (waiting for it if it exists)."""
    if position is None:
        return None
    head = services.ledger.recorder.max_notification_id() or 0
    if position > head:
        raise invalid("position_beyond_log", f"the log ends at position {head}", field)
    if not readmodels.wait_for(position, services.wait_timeout):
        raise ApiError(
            504, "projection_lagging", f"the read models did not reach {position} in time", field
        )
    return position


def _at(readmodels: ReadModels, instant: datetime | None) -> int | None:
    """The log position at an instant (0 when nothing had been committed yet)."""
    if instant is None:
        return None
    return readmodels.position_at(instant) or 0


# ------------------------------------------------------------------ objectives


@queries.get(
    "/objectives",
    response_model=s.ObjectivesPage,
    responses=_READ,
    summary="List objectives",
)
def list_objectives(
    principal: PrincipalDep,
    services: ServicesDep,
    readmodels: ReadModelsDep,
    _: MinPositionDep,
    cycle_id: Annotated[UUID | None, Query(description="Only this cycle's.")] = None,
    team_id: Annotated[UUID | None, Query(description="Only those this team owns.")] = None,
    owner_person_id: Annotated[UUID | None, Query(description="Only this person's.")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> s.ObjectivesPage:
    """Objectives in drafting order, as the alignment tree shows them (progress, health, score),
    without nesting."""
    found = readmodels.objectives(cycle_id, team_id, owner_person_id)
    with _visible(services, principal) as visible:
        items = [o for o in found if visible(o)]
    return s.ObjectivesPage(
        items=items[offset : offset + limit], total=len(items), limit=limit, offset=offset
    )


@queries.get(
    "/objectives/{objective_id}/history",
    response_model=s.History,
    responses=_READ,
    summary="An objective's history",
)
def objective_history(
    objective_id: UUID,
    principal: PrincipalDep,
    services: ServicesDep,
    readmodels: ReadModelsDep,
    _: MinPositionDep,
) -> Json:
    """Its timeline (every event with actor, reason and a one-line summary) and each key
    result's check-ins, corrections included (bitemporal: effective_on and recorded_at)."""
    objective = visible_objective(services, principal, objective_id)
    history = readmodels.history(objective_id)
    if not history:
        # The objective exists (the event store says so): the read models are behind.
        head = services.ledger.recorder.max_notification_id() or 0
        if readmodels.wait_for(head, services.wait_timeout):
            answer.read_again()
            history = readmodels.history(objective.id)
    if not history:
        raise ApiError(504, "projection_lagging", "the read models have not caught up; retry")
    return history


# ------------------------------------------------------------------------ tree


@queries.get(
    "/cycles/{cycle_id}/tree",
    response_model=s.Tree,
    responses=_READ,
    summary="The alignment tree (now, as of an instant, or at a position)",
)
def cycle_tree(
    cycle_id: UUID,
    principal: PrincipalDep,
    services: ServicesDep,
    readmodels: ReadModelsDep,
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
    if as_of is not None and position is not None:
        raise invalid("as_of_or_position", "give as_of or position, not both", "position")
    _cycle(services, cycle_id)
    _team(services, team_id)
    at = _position(services, readmodels, position, "position")
    if as_of is not None:
        at = _at(readmodels, as_of)
    if at is None:
        return _live_tree(services, readmodels, principal, cycle_id, team_id)
    roots = readmodels.tree(cycle_id, position=at, team_id=team_id)
    with _visible(services, principal) as visible:
        roots = visibility.prune_tree(roots, visible)
    return s.Tree(cycle_id=cycle_id, team_id=team_id, position=at, as_of=as_of, roots=roots)


def _viewer_key(services: Services, principal: Principal) -> Hashable:
    """Who the tree is filtered for (see api.deps.TreeCache)."""
    if policy.reads_everything(principal):
        return "all"
    with services.directory.current():
        return (principal.person_id, principal.role, services.directory.position())


def _live_tree(
    services: Services,
    readmodels: ReadModels,
    principal: Principal,
    cycle_id: UUID,
    team_id: UUID | None,
) -> Response:
    """The live tree, from the cache while neither the views nor the viewer's directory moved."""
    live_key = readmodels.live_key()
    key = (cycle_id, team_id, live_key, _viewer_key(services, principal))
    body = services.trees.get(key)
    if body is not None:
        answer.saw(live_key[0])  # the remembered answer was built at exactly this key
    else:
        views_key, roots = readmodels.live_tree(cycle_id, team_id)
        if policy.reads_everything(principal):
            viewer: Hashable = "all"
        else:
            with services.directory.current() as directory:
                roots = visibility.prune_tree(roots, visibility.viewer(directory, principal))
                viewer = (principal.person_id, principal.role, services.directory.position())
        tree_answer = s.Tree(
            cycle_id=cycle_id, team_id=team_id, position=views_key[0], as_of=None, roots=roots
        )
        body = tree_answer.model_dump_json().encode()
        services.trees.put((cycle_id, team_id, views_key, viewer), body)
    return Response(content=body, media_type="application/json")


@queries.get(
    "/cycles/{cycle_id}/replay",
    response_model=s.Replay,
    responses=_READ,
    summary="Replay a cycle day by day or week by week",
)
def cycle_replay(
    cycle_id: UUID,
    principal: PrincipalDep,
    services: ServicesDep,
    readmodels: ReadModelsDep,
    _: MinPositionDep,
    step: Annotated[Literal["day", "week"], Query(description="Frame length.")] = "week",
) -> s.Replay:
    """One frame per day or week: the tree at its end and the events within it."""
    _cycle(services, cycle_id)
    frames = readmodels.replay(cycle_id, step)
    if not policy.reads_everything(principal):
        hidden = _hidden(services, principal, readmodels)
        with _visible(services, principal) as visible:
            frames = [
                {
                    **frame,
                    "tree": visibility.prune_tree(frame.get("tree", []), visible),
                    "events": visibility.without(frame.get("events", []), hidden),
                }
                for frame in frames
            ]
    return s.Replay(cycle_id=cycle_id, step=step, frames=frames)


# ------------------------------------------------------------------------ diff


@queries.get(
    "/diff",
    response_model=s.Diff,
    responses=_READ,
    summary="What changed between two moments",
)
def tree_diff(
    principal: PrincipalDep,
    services: ServicesDep,
    readmodels: ReadModelsDep,
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
    if (from_ is None) == (from_position is None):
        raise invalid("from_required", "give exactly one of from and from_position", "from")
    if to is not None and to_position is not None:
        raise invalid("to_or_to_position", "give to or to_position, not both", "to")
    if cycle_id is not None:
        _cycle(services, cycle_id, "cycle_id")
    start = _at(readmodels, from_) if from_ is not None else from_position
    end = _at(readmodels, to) if to is not None else to_position
    if end is None:
        end = services.ledger.recorder.max_notification_id() or 0
    start = _position(services, readmodels, start, "from")
    end = _position(services, readmodels, end, "to")
    assert start is not None and end is not None
    result = readmodels.diff(start, end, cycle_id)
    hidden = _hidden(services, principal, readmodels)
    if hidden:
        result = {**result, "changes": visibility.without(result.get("changes", []), hidden)}
    return result


# --------------------------------------------------------------------- compare


def _cycle_list(raw: str) -> list[UUID]:
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    try:
        ids = [UUID(p) for p in parts]
    except ValueError:
        raise invalid(
            "uuid_list", "cycles is a comma-separated list of cycle ids", "cycles"
        ) from None
    if not 1 <= len(ids) <= 8 or len(set(ids)) != len(ids):
        raise invalid("cycles_count", "compare one to eight different cycles", "cycles")
    return ids


@queries.get(
    "/compare",
    response_model=s.Comparison,
    responses=_READ,
    summary="Compare cycles, per team",
)
def compare_cycles(
    principal: PrincipalDep,
    services: ServicesDep,
    readmodels: ReadModelsDep,
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
    ids = _cycle_list(cycles)
    for cycle_id in ids:
        _cycle(services, cycle_id, "cycles")
    _team(services, team_id)
    data = readmodels.compare(ids, team_id)
    if data.get("position") is None:
        data["position"] = positions.reflected()
    return data


# ---------------------------------------------------------------- inbox, stale


@queries.get("/inbox", response_model=s.Inbox, responses=_READ, summary="What waits on me")
def my_inbox(principal: PrincipalDep, readmodels: ReadModelsDep, _: MinPositionDep) -> Json:
    """Objectives to review, amendments to decide, counter-proposals to answer."""
    return readmodels.inbox(principal.person_id)


@queries.get(
    "/stale",
    response_model=s.StalePage,
    responses=_READ,
    summary="Key results without a recent check-in",
)
def stale_key_results(
    principal: PrincipalDep,
    services: ServicesDep,
    readmodels: ReadModelsDep,
    _: MinPositionDep,
    cycle_id: Annotated[UUID | None, Query(description="Only this cycle's.")] = None,
) -> s.StalePage:
    """Approved key results in active cycles silent for longer than their cycle's cadence,
    longest-silent first."""
    if cycle_id is not None:
        _cycle(services, cycle_id, "cycle_id")
    items = readmodels.stale(cycle_id)
    hidden = _hidden(services, principal, readmodels)
    return s.StalePage(items=visibility.without(items, hidden))
