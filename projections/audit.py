"""The audit trail: one row per event, who did what to which thing, when, why, approved by whom.

Rows name things ("target of 'Weekly active teams' changed from 40 to 32") and keep people as
ids (actor, approver, person ids in before/after): the API resolves names from the directory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from projections import codec
from projections.base import DataclassFold, FoldState, Logged
from projections.catalogue import CATALOGUE, narrate
from projections.narrative import Context, Narration, advance
from projections.strategy import StrategyFold
from projections.tree import TreeFold


@dataclass
class AuditRow:
    position: int
    recorded_at: datetime
    actor: str
    request_id: str
    event_type: str
    """`Aggregate.Event`, e.g. `Objective.AmendmentApproved`."""
    entity_type: str
    entity_id: UUID
    entity_version: int
    objective_id: UUID | None
    cycle_id: UUID | None
    key_result_id: UUID | None
    action: str
    before: dict[str, Any]
    after: dict[str, Any]
    reason: str
    approver: str | None
    """Who approved, where an approval was needed; None elsewhere."""
    provenance: dict[str, str] | None = None
    """Where the event's values came from (an imported file's row, a data source), if not
    typed in."""


@dataclass
class AuditState(FoldState):
    context: Context = field(default_factory=Context)
    rows: list[AuditRow] = field(default_factory=list)


def audit_row(context: Context, logged: Logged) -> AuditRow:
    """The row for one event, phrased against `context` as it stood before the event."""
    return told_row(narrate(context, logged), logged)


def told_row(told: Narration, logged: Logged) -> AuditRow:
    """The row for one event from its narration (the rebuild's model narrates each event once
    for the audit and the history: `infra.views.model.Model.apply`)."""
    event = logged.event
    return AuditRow(
        position=logged.position,
        recorded_at=logged.recorded_at,
        actor=event.actor,
        request_id=event.request_id,
        event_type=logged.event_type,
        entity_type=told.entity_type,
        entity_id=told.entity_id,
        entity_version=event.originator_version,
        objective_id=told.objective_id,
        cycle_id=told.cycle_id,
        key_result_id=told.key_result_id,
        action=told.action,
        before=told.before,
        after=told.after,
        reason=event.reason,
        approver=told.approver,
        provenance=event.provenance,
    )


class AuditFold(DataclassFold[AuditState]):
    """Every event gives a row, so no handler table: each catalogued event's narration is its
    reaction, phrased against the tree, the strategy layer and the names so far."""

    name = "audit"
    version = 3  # 2: the context holds the strategy layer; 3: rows carry provenance
    state_type = AuditState
    reads = (TreeFold, StrategyFold)

    def reactions(self) -> Mapping[type[Any], Callable[..., Any]]:
        return {entry.event_class: entry.narration for entry in CATALOGUE}

    def step(self, state: AuditState, logged: Logged) -> None:
        state.rows.append(audit_row(state.context, logged))
        advance(state.context, logged)


def audit_trail(
    state: AuditState,
    *,
    actor: str | None = None,
    entity_id: UUID | None = None,
    event_type: str | None = None,
    cycle_id: UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after_position: int | None = None,
    up_to_position: int | None = None,
) -> list[AuditRow]:
    """Rows in log order. `entity_id` matches an aggregate, an objective or a key result;
    `since`/`until` bound the recorded time, both inclusive."""

    def keep(row: AuditRow) -> bool:
        return (
            (actor is None or row.actor == actor)
            and (
                entity_id is None
                or entity_id in (row.entity_id, row.objective_id, row.key_result_id)
            )
            and (event_type is None or row.event_type == event_type)
            and (cycle_id is None or row.cycle_id == cycle_id)
            and (since is None or row.recorded_at >= since)
            and (until is None or row.recorded_at <= until)
            and (after_position is None or row.position > after_position)
            and (up_to_position is None or row.position <= up_to_position)
        )

    return [row for row in state.rows if keep(row)]


def row_json(row: AuditRow) -> dict[str, Any]:
    """JSON-native form of a row (ids and times as strings), for JSON, JSONL and CSV export."""
    dumped: dict[str, Any] = codec.dump(row)
    return dumped
