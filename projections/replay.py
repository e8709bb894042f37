"""Replay a cycle frame by frame: the tree at each boundary, and the events in between.

Boundaries are log positions (inclusive) or instants (events recorded at or before them). An
instant resolves by recorded time in log order, which assumes recorded times follow the log,
as database commit times do.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from uuid import UUID

from domain.cycle import Cycle
from domain.objective import Objective
from domain.team import Team
from projections import codec
from projections.base import Logged
from projections.tree import TreeFold, TreeState

Boundary = int | datetime


@dataclass(frozen=True)
class Frame:
    boundary: Boundary
    position: int
    """The last position applied (the previous frame's if nothing happened)."""
    state: TreeState
    """The tree state at the boundary (read-only: frames share unchanged objectives); render it
    with `projections.tree.tree`, compare two with `projections.diff.diff`."""
    events: tuple[Logged, ...]
    """Events since the previous frame (or since the start)."""


def _within(logged: Logged, boundary: Boundary) -> bool:
    if isinstance(boundary, datetime):
        return logged.recorded_at <= boundary
    return logged.position <= boundary


def replay(
    logged_events: Iterable[Logged],
    boundaries: Sequence[Boundary],
    *,
    start: TreeState | None = None,
) -> list[Frame]:
    """One frame per boundary (ascending), continuing from `start` if given (events it already
    holds are skipped). Events after the last boundary are not read."""
    tree = TreeFold()
    state = start if start is not None else tree.initial()
    events = (e for e in logged_events if e.position > state.cursor.position)
    pending: Logged | None = next(events, None)
    frames: list[Frame] = []
    previous: TreeState | None = None
    for boundary in boundaries:
        between: list[Logged] = []
        while pending is not None and _within(pending, boundary):
            tree.apply(state, pending)
            between.append(pending)
            pending = next(events, None)
        touched = {logged.event.originator_id for logged in between}
        previous = _snapshot(state, previous, touched)
        frames.append(Frame(boundary, state.cursor.position, previous, tuple(between)))
    return frames


def _snapshot(state: TreeState, previous: TreeState | None, touched: set[UUID]) -> TreeState:
    """A copy of `state` that shares, with the previous frame, the objectives no event touched.

    Sound because the tree fold changes an objective only on that objective's own events.
    Frames are therefore read-only: mutating one could show in its neighbours.
    """
    if previous is None:
        return codec.clone(state)
    kept = previous.objectives
    return TreeState(
        cursor=codec.clone(state.cursor),
        cycles=codec.clone(state.cycles),
        teams=codec.clone(state.teams),
        objectives={
            objective_id: kept[objective_id]
            if objective_id in kept and objective_id not in touched
            else codec.clone(node)
            for objective_id, node in state.objectives.items()
        },
        cycle_objectives=codec.clone(state.cycle_objectives),
    )


def period_ends(
    starts_on: date, ends_on: date, step: Literal["day", "week"] = "day"
) -> list[datetime]:
    """The last instant (UTC) of each day, or of each week counted from `starts_on`; the cycle's
    last day always closes the last frame."""
    stride = 1 if step == "day" else 7
    ends: list[datetime] = []
    day = starts_on + timedelta(days=stride - 1)
    while day < ends_on:
        ends.append(datetime.combine(day, time.max, tzinfo=UTC))
        day += timedelta(days=stride)
    ends.append(datetime.combine(ends_on, time.max, tzinfo=UTC))
    return ends


def cycle_events(logged_events: Iterable[Logged], cycle_id: UUID) -> Iterator[Logged]:
    """The events a cycle's tree needs: the cycle's, its objectives', and the teams'."""
    objectives: set[UUID] = set()
    for logged in logged_events:
        event = logged.event
        if isinstance(event, Objective.Drafted) and event.cycle_id == cycle_id:
            objectives.add(event.originator_id)
        if (
            isinstance(event, Team.Event)
            or (isinstance(event, Cycle.Event) and event.originator_id == cycle_id)
            or event.originator_id in objectives
        ):
            yield logged
