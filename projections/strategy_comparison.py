"""The strategy layer in the cycle comparison: per cycle, themes covered, KPIs over the
quarter, initiatives and the changes to the strategy recorded during it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from uuid import UUID

from domain.kpi import Kpi, status_colour
from domain.strategy import Strategy
from projections.entries import type_name
from projections.strategy import KpiEntry, StrategyState
from projections.strategy_dashboard import trend
from projections.tree import TreeState

_STRATEGY_EVENT = f"{Strategy.__name__}."
_THRESHOLDS_CHANGED = type_name(Kpi.ThresholdsChanged)

# ------------------------------------------------------------ comparison


@dataclass(frozen=True)
class KpiInCycle:
    kpi_id: UUID
    name: str
    unit: str
    direction: str
    start_value: float | None
    """The live value of the last period ending before the cycle (else its first period)."""
    end_value: float | None
    """The live value of the last period ending by the cycle's end."""
    change: float | None
    trend: str | None
    end_status: str | None
    measurements: int
    """Live measurements of periods ending within the cycle."""
    corrections: int


@dataclass(frozen=True)
class StrategyInCycle:
    cycle_id: UUID
    objectives: int
    themed_objectives: int
    themed_share: float | None
    key_results_following_kpis: int
    initiatives: int
    initiatives_by_status: dict[str, int]
    initiatives_done_share: float | None
    """Done among those that ended (done or cancelled)."""
    strategy_changes: int
    """Changes to the strategy itself recorded between the cycle's first and last day."""
    threshold_changes: int
    kpis: tuple[KpiInCycle, ...]


def _kpi_in_cycle(kpi: KpiEntry, starts_on: date, ends_on: date) -> KpiInCycle:
    live = kpi.live
    before = [m for m in live if m.ends_on < starts_on]
    within = [m for m in live if starts_on <= m.ends_on <= ends_on]
    start = before[-1] if before else (within[0] if within else None)
    end = within[-1] if within else (before[-1] if before else None)
    colour = status_colour(kpi.direction, kpi.green, kpi.amber, end.value if end else None)
    start_value = start.value if start else None
    end_value = end.value if end else None
    return KpiInCycle(
        kpi.kpi_id,
        kpi.name,
        kpi.unit,
        kpi.direction,
        start_value,
        end_value,
        end_value - start_value if start_value is not None and end_value is not None else None,
        trend(kpi.direction, start_value, end_value),
        colour.value if colour else None,
        len(within),
        sum(
            1
            for m in kpi.measurements
            if m.supersedes is not None and starts_on <= m.ends_on <= ends_on
        ),
    )


def strategy_in_cycles(
    state: StrategyState, tree: TreeState, cycle_ids: Sequence[UUID]
) -> list[StrategyInCycle]:
    """Per cycle: themes covered, KPIs over the quarter, initiatives, strategy changes."""
    out = []
    for cycle_id in cycle_ids:
        clock = tree.cycles.get(cycle_id)
        if clock is None:
            continue
        nodes = [
            tree.objectives[o]
            for o in tree.cycle_objectives.get(cycle_id, [])
            if tree.objectives[o].status == "approved"
        ]
        themed = sum(1 for n in nodes if n.theme_id is not None)
        following = sum(1 for n in nodes for kr in n.live_key_results if kr.kpi_id is not None)
        ids = {n.objective_id for n in nodes}
        initiatives = [
            i
            for i in state.initiatives.values()
            if any(k.objective_id in ids for k in i.key_results)
        ]
        by_status: dict[str, int] = {}
        for initiative in initiatives:
            by_status[initiative.status] = by_status.get(initiative.status, 0) + 1
        ended = by_status.get("done", 0) + by_status.get("cancelled", 0)
        in_cycle = [
            c for c in state.changes if clock.starts_on <= c.recorded_at.date() <= clock.ends_on
        ]
        out.append(
            StrategyInCycle(
                cycle_id=cycle_id,
                objectives=len(nodes),
                themed_objectives=themed,
                themed_share=themed / len(nodes) if nodes else None,
                key_results_following_kpis=following,
                initiatives=len(initiatives),
                initiatives_by_status=by_status,
                initiatives_done_share=by_status.get("done", 0) / ended if ended else None,
                strategy_changes=sum(
                    1 for c in in_cycle if c.event_type.startswith(_STRATEGY_EVENT)
                ),
                threshold_changes=sum(1 for c in in_cycle if c.event_type == _THRESHOLDS_CHANGED),
                kpis=tuple(
                    _kpi_in_cycle(k, clock.starts_on, clock.ends_on)
                    for k in state.kpis.values()
                    if k.defined_at.date() <= clock.ends_on
                ),
            )
        )
    return out
