"""Replay a cycle frame by frame: the tree at each boundary, and the events in between.

Boundaries are log positions (inclusive: the tree as the log stood after that event) or
instants: the story of the cycle by its dates. At an instant boundary an event counts

- if it is *imported* (history loaded from elsewhere: a spreadsheet import, the demo; the chain
  flags it and the caller names its position in `imported`), at its own time, the event's
  `timestamp` (an imported check-in's is 17:00 UTC of its `effective_on`);
- otherwise (typed), at its commit time (`recorded_at`), never before a typed event earlier in
  the log: commit times follow the log;
- and never before an earlier event of its own aggregate: an aggregate's events count in their
  order, so a correction or an amendment typed after a check-in never shows before it.

Each frame applies the events that count by its boundary and were not counted before, in log
order. A frame of an instant replay is therefore not always a prefix of the log: a quarter
imported today counts week by week, while the events typed since count when they were
committed. That is sound because the tree fold changes an aggregate only on that aggregate's
own events (a team's, a cycle's, an objective's), and each aggregate's events are applied in
its order. A fold's "now" in a frame is the latest time it counted, so health reads as it did
at that moment of the story.

Time travel (as of an instant) is a different question, what the ledger said at that instant,
and stays by commit time (`docs/import.md`). For a log with nothing imported, and commit times
that follow the log, both agree: the events that count by an instant are exactly those
committed by then.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Collection, Iterable, Iterator, Sequence
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
    """The highest position applied so far (the previous frame's if nothing happened). For
    position boundaries, and instant ones over a log with nothing imported, the frame is the
    log up to here; an imported event counted early may put it past events not yet counted."""
    state: TreeState
    """The tree state at the boundary (read-only: frames share unchanged objectives); render it
    with `projections.tree.tree`, compare two with `projections.diff.diff`."""
    events: tuple[Logged, ...]
    """Events since the previous frame (or since the start), in log order, as logged."""
    counted_at: tuple[datetime, ...] = ()
    """For instant boundaries: when each of `events` counts (see the module's rules)."""


def replay(
    logged_events: Iterable[Logged],
    boundaries: Sequence[Boundary],
    *,
    start: TreeState | None = None,
    imported: Collection[int] = frozenset(),
) -> list[Frame]:
    """One frame per boundary (ascending), continuing from `start` if given (events it already
    holds are skipped). Boundaries are all positions or all instants.

    Position boundaries do not read events after the last one. Instant boundaries read every
    event given (an imported event late in the log may count early): pass the events that can
    matter. `imported`: the positions of the events that count at their own time.
    """
    tree = TreeFold()
    state = start if start is not None else tree.initial()
    events = (e for e in logged_events if e.position > state.cursor.position)
    instants = [b for b in boundaries if isinstance(b, datetime)]
    positions = [b for b in boundaries if not isinstance(b, datetime)]
    if not instants:
        return _by_position(tree, state, events, positions)
    if positions:
        raise ValueError("replay boundaries are all positions or all instants")
    return _by_time(tree, state, events, instants, imported)


def _by_position(
    tree: TreeFold, state: TreeState, events: Iterator[Logged], boundaries: Sequence[int]
) -> list[Frame]:
    pending: Logged | None = next(events, None)
    frames: list[Frame] = []
    previous: TreeState | None = None
    for boundary in boundaries:
        between: list[Logged] = []
        while pending is not None and pending.position <= boundary:
            tree.apply(state, pending)
            between.append(pending)
            pending = next(events, None)
        touched = {logged.event.originator_id for logged in between}
        previous = _snapshot(state, previous, touched)
        frames.append(Frame(boundary, state.cursor.position, previous, tuple(between)))
    return frames


def counting_times(
    logged_events: Iterable[Logged], imported: Collection[int] = frozenset()
) -> Iterator[tuple[Logged, datetime]]:
    """Each event with the instant a replay counts it at (the module's rules), in log order."""
    typed_clock: datetime | None = None
    aggregate_clock: dict[UUID, datetime] = {}
    for logged in logged_events:
        if logged.position in imported:
            at = logged.event.timestamp
        else:
            at = logged.recorded_at
            if typed_clock is not None and typed_clock > at:
                at = typed_clock
            typed_clock = at
        key = logged.event.originator_id
        before = aggregate_clock.get(key)
        if before is not None and before > at:
            at = before
        aggregate_clock[key] = at
        yield logged, at


def _by_time(
    tree: TreeFold,
    state: TreeState,
    events: Iterator[Logged],
    boundaries: Sequence[datetime],
    imported: Collection[int],
) -> list[Frame]:
    buckets: list[list[tuple[Logged, datetime]]] = [[] for _ in boundaries]
    for logged, at in counting_times(events, imported):
        index = bisect_left(boundaries, at)
        if index < len(boundaries):
            buckets[index].append((logged, at))
    frames: list[Frame] = []
    previous: TreeState | None = None
    cursor = state.cursor
    for boundary, bucket in zip(boundaries, buckets, strict=True):
        for logged, at in bucket:
            # The fold reads the counted time as the event's: an imported approval is dated
            # by its own time, and the fold's now follows the story.
            tree.step(state, Logged(logged.position, at, logged.event))
            cursor.position = max(cursor.position, logged.position)
            if cursor.now is None or at > cursor.now:
                cursor.now = at
        touched = {logged.event.originator_id for logged, _ in bucket}
        previous = _snapshot(state, previous, touched)
        frames.append(
            Frame(
                boundary,
                cursor.position,
                previous,
                tuple(logged for logged, _ in bucket),
                tuple(at for _, at in bucket),
            )
        )
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
