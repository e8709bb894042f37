"""Stale key results: approved objectives' key results in active cycles whose latest value is
older than the cycle's check-in cadence.

"Last check-in" is the latest *effective* date among the key result's check-ins (a correction
keeps its original's date), since staleness is about how old the value is. A key result never
checked in counts from the later of the cycle's start and the objective's approval. As every
fold, "today" is the date of the latest event applied unless the caller passes one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from domain.cycle import Cadence, Cycle, Phase
from domain.objective import Objective
from projections.base import (
    PEOPLE_TEAMS_STRATEGY,
    DataclassFold,
    FoldState,
    Handlers,
    Logged,
    fields_of,
)
from projections.changes import added_key_results, edited_key_results, removed_key_results
from projections.headings import GRADING_AND_LINKS, ObjectiveHeading, follow_headings


def days_without_check_in(
    last_check_in_on: date | None, starts_on: date, approved_on: date | None, today: date
) -> int:
    since = last_check_in_on or max(starts_on, approved_on or starts_on)
    return (today - since).days


def is_stale(days: int, cadence: str) -> bool:
    return days > Cadence(cadence).days


@dataclass
class WatchedKeyResult:
    key_result_id: UUID
    title: str
    removed: bool = False
    last_check_in_on: date | None = None
    last_recorded_at: datetime | None = None


@dataclass
class WatchedObjective(ObjectiveHeading):
    approved_on: date | None = None
    abandoned: bool = False
    key_results: dict[UUID, WatchedKeyResult] = field(default_factory=dict)


@dataclass
class WatchedCycle:
    starts_on: date
    ends_on: date
    cadence: str
    phase: str = Phase.PLANNING.value


@dataclass
class StalenessState(FoldState):
    cycles: dict[UUID, WatchedCycle] = field(default_factory=dict)
    objectives: dict[UUID, WatchedObjective] = field(default_factory=dict)


_on: Handlers[StalenessState] = Handlers()


class StalenessFold(DataclassFold[StalenessState]):
    name = "staleness"
    state_type = StalenessState
    handlers = _on
    ignores = (
        # Staleness watches check-ins of approved key results: negotiation, alignment, weights
        # and grades do not change when a key result was last checked in.
        Objective.Realigned,
        Objective.KeyResultRetargeted,
        Objective.KeyResultReweighted,
        Objective.SubmittedForApproval,
        Objective.ChangesRequested,
        Objective.CounterProposed,
        Objective.CounterProposalDeclined,
        Objective.Withdrawn,
        Objective.AmendmentProposed,
        Objective.AmendmentRejected,
        *GRADING_AND_LINKS,
        *PEOPLE_TEAMS_STRATEGY,
    )


@_on.on(Cycle.Planned)
def _planned(state: StalenessState, e: Cycle.Planned, logged: Logged) -> None:
    state.cycles[e.originator_id] = WatchedCycle(e.starts_on, e.ends_on, e.cadence)


def _enter(state: StalenessState, e: Cycle.Event, logged: Logged, phase: Phase) -> None:
    state.cycles[e.originator_id].phase = phase.value


_on.on_phase_entered(_enter)


follow_headings(_on, WatchedObjective, lambda state: state.objectives)


@_on.on(Objective.Abandoned)
def _abandoned(state: StalenessState, e: Objective.Abandoned, logged: Logged) -> None:
    state.objectives[e.originator_id].abandoned = True


@_on.on(Objective.KeyResultAdded)
def _kr_added(state: StalenessState, e: Objective.KeyResultAdded, logged: Logged) -> None:
    state.objectives[e.originator_id].key_results[e.key_result_id] = WatchedKeyResult(
        e.key_result_id, e.title
    )


@_on.on(Objective.KeyResultReworded)
def _kr_reworded(state: StalenessState, e: Objective.KeyResultReworded, logged: Logged) -> None:
    state.objectives[e.originator_id].key_results[e.key_result_id].title = e.title


@_on.on(Objective.KeyResultRemoved)
def _kr_removed(state: StalenessState, e: Objective.KeyResultRemoved, logged: Logged) -> None:
    state.objectives[e.originator_id].key_results[e.key_result_id].removed = True


def _apply_changes(watched: WatchedObjective, changes: dict[str, object]) -> None:
    if isinstance(changes.get("title"), str):
        watched.title = str(changes["title"])
    for kr_id, edits in edited_key_results(changes).items():
        if "title" in edits:
            watched.key_results[kr_id].title = edits["title"]
    for added in added_key_results(changes):
        watched.key_results[added.key_result_id] = WatchedKeyResult(
            added.key_result_id, added.title
        )
    for kr_id in removed_key_results(changes):
        watched.key_results[kr_id].removed = True


@_on.on(Objective.Approved)
def _approved(state: StalenessState, e: Objective.Approved, logged: Logged) -> None:
    state.objectives[e.originator_id].approved_on = logged.recorded_at.date()


@_on.on(Objective.CounterProposalAccepted)
def _accepted(state: StalenessState, e: Objective.CounterProposalAccepted, logged: Logged) -> None:
    watched = state.objectives[e.originator_id]
    _apply_changes(watched, e.changes)
    watched.approved_on = logged.recorded_at.date()


@_on.on(Objective.AmendmentApproved)
def _amended(state: StalenessState, e: Objective.AmendmentApproved, logged: Logged) -> None:
    _apply_changes(state.objectives[e.originator_id], e.changes)


@_on.on(Objective.ProgressReported)
def _checked_in(state: StalenessState, e: Objective.ProgressReported, logged: Logged) -> None:
    kr = state.objectives[e.originator_id].key_results[e.key_result_id]
    if kr.last_check_in_on is None or e.effective_on > kr.last_check_in_on:
        kr.last_check_in_on = e.effective_on
    kr.last_recorded_at = logged.recorded_at


@_on.on(Objective.CheckInCorrected)
def _corrected(state: StalenessState, e: Objective.CheckInCorrected, logged: Logged) -> None:
    kr = state.objectives[e.originator_id].key_results[e.key_result_id]
    kr.last_recorded_at = logged.recorded_at


# ---------------------------------------------------------------- queries


@dataclass(frozen=True)
class ListedKeyResult:
    """Which key result of which objective, and whose: what every listed item says first."""

    cycle_id: UUID
    objective_id: UUID
    objective_title: str
    key_result_id: UUID
    title: str
    owner_team_id: UUID | None
    owner_person_id: UUID | None


@dataclass(frozen=True)
class StaleKeyResult(ListedKeyResult):
    last_check_in_on: date | None
    last_recorded_at: datetime | None
    days_since: int
    cadence_days: int


def _where(watched: WatchedObjective, kr: WatchedKeyResult) -> dict[str, Any]:
    """The `ListedKeyResult` fields of `kr`."""
    return {
        "cycle_id": watched.cycle_id,
        "objective_id": watched.objective_id,
        "objective_title": watched.title,
        "key_result_id": kr.key_result_id,
        "title": kr.title,
        "owner_team_id": watched.owner_team_id,
        "owner_person_id": watched.owner_person_id,
    }


def stale_key_results(
    state: StalenessState, *, cycle_id: UUID | None = None, today: date | None = None
) -> list[StaleKeyResult]:
    """Stale key results, longest-silent first. `today` defaults to the fold's now."""
    day = today or (state.cursor.now.date() if state.cursor.now else None)
    if day is None:
        return []
    found: list[StaleKeyResult] = []
    for watched in state.objectives.values():
        cycle = state.cycles.get(watched.cycle_id)
        if (
            cycle is None
            or cycle.phase != Phase.ACTIVE.value
            or (cycle_id is not None and watched.cycle_id != cycle_id)
            or watched.approved_on is None
            or watched.abandoned
        ):
            continue
        for kr in watched.key_results.values():
            if kr.removed:
                continue
            days = days_without_check_in(
                kr.last_check_in_on, cycle.starts_on, watched.approved_on, day
            )
            if is_stale(days, cycle.cadence):
                found.append(
                    StaleKeyResult(
                        **_where(watched, kr),
                        last_check_in_on=kr.last_check_in_on,
                        last_recorded_at=kr.last_recorded_at,
                        days_since=days,
                        cadence_days=Cadence(cycle.cadence).days,
                    )
                )
    return sorted(found, key=lambda s: -s.days_since)


# ------------------------------------------------------- failing data sources


@dataclass(frozen=True)
class SourceHealth:
    """How a data source is failing: the rule its last fetch broke (or its error), since when,
    how many times in a row."""

    source_id: UUID
    rule: str | None
    error: str | None
    failing_since: datetime | None
    failures: int


@dataclass(frozen=True)
class SourceProblem(SourceHealth):
    """A data source whose last fetch failed, as the sources' health table says (no fold
    keeps it: health is machinery, not a decision), and the key result that follows it."""

    objective_id: UUID
    key_result_id: UUID


@dataclass(frozen=True)
class FailingSource(SourceHealth, ListedKeyResult):
    """A failing source, listed under its key result (the key result's fields first)."""


def failing_sources(
    state: StalenessState, problems: list[SourceProblem], *, cycle_id: UUID | None = None
) -> list[FailingSource]:
    """The failing sources of live key results of approved objectives in active cycles,
    longest failing first."""
    found: list[FailingSource] = []
    for problem in problems:
        watched = state.objectives.get(problem.objective_id)
        cycle = state.cycles.get(watched.cycle_id) if watched else None
        kr = watched.key_results.get(problem.key_result_id) if watched else None
        if (
            watched is None
            or cycle is None
            or kr is None
            or kr.removed
            or watched.abandoned
            or cycle.phase != Phase.ACTIVE.value
            or (cycle_id is not None and watched.cycle_id != cycle_id)
        ):
            continue
        found.append(FailingSource(**_where(watched, kr), **fields_of(SourceHealth, problem)))
    return sorted(found, key=lambda f: (f.failing_since is None, f.failing_since or 0))
