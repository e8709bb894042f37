"""Cycle history: each key result's check-ins (bitemporal, corrections kept) and each
objective's timeline of events with a one-line summary."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from domain.access import AccessToken
from domain.channel import ChatChannel
from domain.objective import Objective
from domain.person import Person
from domain.team import Team
from domain.webhook import WebhookEndpoint
from projections.base import DataclassFold, FoldState, KindTest, Logged
from projections.catalogue import CATALOGUE, narrate
from projections.narrative import NAMING, Context, advance
from projections.strategy import StrategyFold
from projections.tree import TreeFold


@dataclass
class CheckInRecord:
    check_in_id: UUID
    key_result_id: UUID
    effective_on: date
    """Valid time: the day the value is true for."""
    recorded_at: datetime
    """Transaction time: when the log recorded it."""
    position: int
    value: float
    confidence: int
    note: str
    actor: str
    supersedes: UUID | None = None
    """For a correction: the check-in it replaces."""
    superseded_by: UUID | None = None
    reason: str = ""
    """Why a correction was made."""

    @property
    def superseded(self) -> bool:
        return self.superseded_by is not None


@dataclass
class TimelineEntry:
    position: int
    recorded_at: datetime
    event_type: str
    actor: str
    reason: str
    summary: str
    key_result_id: UUID | None = None


@dataclass
class KeyResultHistory:
    key_result_id: UUID
    lineage_id: UUID
    title: str
    check_ins: list[CheckInRecord] = field(default_factory=list)
    """In log order, superseded ones included."""


@dataclass
class ObjectiveHistory:
    objective_id: UUID
    cycle_id: UUID
    title: str
    timeline: list[TimelineEntry] = field(default_factory=list)
    key_results: dict[UUID, KeyResultHistory] = field(default_factory=dict)


@dataclass
class HistoryState(FoldState):
    context: Context = field(default_factory=Context)
    objectives: dict[UUID, ObjectiveHistory] = field(default_factory=dict)


OBJECTIVE_EVENT = KindTest[Objective.Event](Objective.Event)
CHECK_IN = KindTest[Objective.ProgressReported | Objective.CheckInCorrected](
    Objective.ProgressReported, Objective.CheckInCorrected
)
CORRECTION = KindTest[Objective.CheckInCorrected](Objective.CheckInCorrected)


class HistoryFold(DataclassFold[HistoryState]):
    name = "history"
    version = 2  # 2: the context holds the strategy layer
    state_type = HistoryState
    reads = (TreeFold, StrategyFold)
    ignores = (Person, AccessToken, Team.Disbanded, WebhookEndpoint, ChatChannel)

    def reactions(self) -> Mapping[type[Any], Callable[..., Any]]:
        """Each objective event's narration (its timeline entry), and the names sentences
        quote; the tree and the strategy layer the sentences read are their folds' own."""
        reactions: dict[type[Any], Callable[..., Any]] = {
            entry.event_class: entry.narration for entry in CATALOGUE.of(Objective)
        }
        reactions.update(dict.fromkeys(NAMING, advance))
        return reactions

    def step(self, state: HistoryState, logged: Logged) -> None:
        event = logged.event
        told = narrate(state.context, logged) if OBJECTIVE_EVENT(event) else None
        advance(state.context, logged)
        if told is not None:
            record(state, logged, told.action, told.key_result_id)


def record(
    state: HistoryState,
    logged: Logged,
    summary: str,
    kr_id: UUID | None,
    *,
    timeline: bool = True,
) -> None:
    """Add one objective event to its timeline (and check-in series), given its narration;
    reads the tree in `state.context` *after* the event was applied to it. `timeline=False`
    for a reader that keeps the timeline elsewhere (the views read it from the audit rows)."""
    event = logged.event
    node = state.context.tree.objectives[event.originator_id]
    history = state.objectives.get(node.objective_id)
    if history is None:
        history = state.objectives[node.objective_id] = ObjectiveHistory(
            node.objective_id, node.cycle_id, node.title
        )
    history.title = node.title
    for kr in node.key_results.values():
        entry = history.key_results.get(kr.key_result_id)
        if entry is None:
            history.key_results[kr.key_result_id] = KeyResultHistory(
                kr.key_result_id, kr.lineage_id, kr.title
            )
        else:
            entry.title = kr.title
    if timeline:
        history.timeline.append(
            TimelineEntry(
                logged.position,
                logged.recorded_at,
                logged.event_type,
                event.actor,
                event.reason,
                summary,
                kr_id,
            )
        )
    if CHECK_IN(event):
        series = history.key_results[event.key_result_id].check_ins
        supersedes = event.supersedes if CORRECTION(event) else None
        for old in series:
            if old.check_in_id == supersedes:
                old.superseded_by = event.check_in_id
        series.append(
            CheckInRecord(
                check_in_id=event.check_in_id,
                key_result_id=event.key_result_id,
                effective_on=event.effective_on,
                recorded_at=logged.recorded_at,
                position=logged.position,
                value=event.value,
                confidence=event.confidence,
                note=event.note,
                actor=event.actor,
                supersedes=supersedes,
                reason=event.reason if supersedes else "",
            )
        )


_record = record  # the former private name, still imported by infra/views/model.py


# ---------------------------------------------------------------- queries


def objective_history(state: HistoryState, objective_id: UUID) -> ObjectiveHistory | None:
    return state.objectives.get(objective_id)


def cycle_history(state: HistoryState, cycle_id: UUID) -> list[ObjectiveHistory]:
    """The cycle's objectives' histories, in drafting order."""
    return [h for h in state.objectives.values() if h.cycle_id == cycle_id]


def check_in_series(
    state: HistoryState,
    objective_id: UUID,
    key_result_id: UUID,
    *,
    include_superseded: bool = True,
) -> list[CheckInRecord]:
    """A key result's check-ins by effective date, then by position (recording order)."""
    history = state.objectives.get(objective_id)
    kr = history.key_results.get(key_result_id) if history else None
    if kr is None:
        return []
    records = [c for c in kr.check_ins if include_superseded or not c.superseded]
    return sorted(records, key=lambda c: (c.effective_on, c.position))


def lineage_series(
    state: HistoryState, lineage_id: UUID, *, include_superseded: bool = False
) -> list[CheckInRecord]:
    """One key result followed across cycles (carry-over keeps the lineage id)."""
    records = [
        c
        for h in state.objectives.values()
        for kr in h.key_results.values()
        if kr.lineage_id == lineage_id
        for c in kr.check_ins
        if include_superseded or not c.superseded
    ]
    return sorted(records, key=lambda c: (c.effective_on, c.position))
