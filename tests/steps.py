"""One-line steps on an `OkrLedger` that many tests take to reach their starting point.

Drafting an objective, adding a metric or a milestone key result and defining a KPI each take
half a dozen keyword arguments; tests that only need "an objective with a metric key result"
call these instead, naming just what they care about. Everything else goes through unchanged
as keyword arguments, so each step is exactly the ledger command it wraps.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.application import OkrLedger
from domain.base import CommandContext
from domain.objective import Kind
from domain.scoring import Measure


def draft(
    ledger: OkrLedger,
    ctx: CommandContext,
    cycle_id: UUID,
    title: str,
    kind: Kind = Kind.COMMITTED,
    **more: Any,
) -> UUID:
    """Drafts an objective (owner, alignment and the rest in `more`); its id."""
    return ledger.draft_objective(cycle_id=cycle_id, title=title, kind=kind, ctx=ctx, **more).id


def metric(
    ledger: OkrLedger,
    ctx: CommandContext,
    objective_id: UUID,
    title: str,
    baseline: float | None,
    target: float,
    **more: Any,
) -> UUID:
    """Adds a metric key result (unit, direction, weight in `more`); its id."""
    key_result_id = ledger.add_key_result(
        objective_id,
        title=title,
        measure=Measure.METRIC,
        baseline=baseline,
        target=target,
        ctx=ctx,
        **more,
    ).extra_id
    assert key_result_id is not None
    return key_result_id


def milestone(ledger: OkrLedger, ctx: CommandContext, objective_id: UUID, title: str) -> UUID:
    """Adds a milestone key result; its id."""
    key_result_id = ledger.add_key_result(
        objective_id, title=title, measure=Measure.MILESTONE, ctx=ctx
    ).extra_id
    assert key_result_id is not None
    return key_result_id


def kpi(
    ledger: OkrLedger,
    ctx: CommandContext,
    name: str,
    unit: str,
    direction: str,
    owner: UUID,
    thresholds: tuple[float, float],
    **more: Any,
) -> UUID:
    """Defines a KPI with (green, amber) thresholds (theme, perspective... in `more`); its id."""
    green, amber = thresholds
    return ledger.define_kpi(
        name=name,
        unit=unit,
        direction=direction,
        owner_person_id=owner,
        green=green,
        amber=amber,
        ctx=ctx,
        **more,
    ).id
