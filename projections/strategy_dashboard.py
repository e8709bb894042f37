"""The KPI dashboard and the initiatives, over the strategy fold's state (`projections.strategy`)
and the alignment tree's (the key results that follow a KPI, or that an initiative moves).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from domain.initiative import InitiativeStatus
from domain.kpi import status_colour
from projections.base import fields_of
from projections.strategy import (
    InitiativeDefinition,
    InitiativeNote,
    KpiDefinition,
    KpiEntry,
    MeasurementEntry,
    StrategyState,
    ThresholdChange,
)
from projections.tree import TreeState

# ------------------------------------------------------------------- KPIs


@dataclass(frozen=True)
class MeasurementView:
    measurement_id: UUID
    period: str
    starts_on: date
    ends_on: date
    value: float
    status: str | None
    """Colour under the thresholds in force now (thresholds recolour the past)."""
    note: str
    recorded_at: datetime
    actor: str
    supersedes: UUID | None
    superseded_by: UUID | None
    reason: str


@dataclass(frozen=True)
class LinkedKeyResult:
    objective_id: UUID
    key_result_id: UUID
    cycle_id: UUID
    objective_title: str
    title: str
    current_value: float | None
    target: float | None


@dataclass
class KpiView(KpiDefinition):
    """A KPI as the dashboard shows it: its definition, where it stands and its history. Not
    `frozen`, as its definition is the fold's (a value all the same: nothing changes it)."""

    north_star: bool
    retired: bool
    current_value: float | None
    current_period: str | None
    status: str | None
    """green, amber or red for the current value; None before the first measurement."""
    previous_value: float | None
    change: float | None
    trend: str | None
    """improving, worsening or flat (current against the previous period), None with fewer
    than two measurements."""
    history: tuple[MeasurementView, ...]
    """Live measurements, oldest period first: the trend chart."""
    corrections: tuple[MeasurementView, ...]
    """Measurements superseded by a correction, in recording order."""
    thresholds: tuple[ThresholdChange, ...]
    key_results: tuple[LinkedKeyResult, ...] = ()


def _measurement_view(kpi: KpiEntry, m: MeasurementEntry) -> MeasurementView:
    colour = status_colour(kpi.direction, kpi.green, kpi.amber, m.value)
    return MeasurementView(
        m.measurement_id,
        m.period,
        m.starts_on,
        m.ends_on,
        m.value,
        colour.value if colour else None,
        m.note,
        m.recorded_at,
        m.actor,
        m.supersedes,
        m.superseded_by,
        m.reason,
    )


def trend(direction: str, previous: float | None, current: float | None) -> str | None:
    if previous is None or current is None:
        return None
    if current == previous:
        return "flat"
    better = current > previous if direction == "increase" else current < previous
    return "improving" if better else "worsening"


def linked_key_results(tree: TreeState, kpi_id: UUID) -> list[LinkedKeyResult]:
    out = []
    for node in tree.objectives.values():
        if node.status == "abandoned":
            continue
        for kr in node.live_key_results:
            if kr.kpi_id == kpi_id:
                out.append(
                    LinkedKeyResult(
                        node.objective_id,
                        kr.key_result_id,
                        node.cycle_id,
                        node.title,
                        kr.title,
                        kr.current.value if kr.current else None,
                        kr.target,
                    )
                )
    return out


def kpi_view(state: StrategyState, kpi_id: UUID, tree: TreeState | None = None) -> KpiView:
    kpi = state.kpis[kpi_id]
    live = kpi.live
    current = live[-1] if live else None
    previous = live[-2] if len(live) > 1 else None
    colour = status_colour(kpi.direction, kpi.green, kpi.amber, current.value if current else None)
    north = state.strategy.north_star_kpi_id if state.strategy else None
    return KpiView(
        **fields_of(KpiDefinition, kpi),
        north_star=north == kpi.kpi_id,
        retired=kpi.retired,
        current_value=current.value if current else None,
        current_period=current.period if current else None,
        status=colour.value if colour else None,
        previous_value=previous.value if previous else None,
        change=current.value - previous.value if current and previous else None,
        trend=trend(
            kpi.direction, previous.value if previous else None, current.value if current else None
        ),
        history=tuple(_measurement_view(kpi, m) for m in live),
        corrections=tuple(
            _measurement_view(kpi, m) for m in kpi.measurements if m.superseded_by is not None
        ),
        thresholds=tuple(kpi.thresholds),
        key_results=tuple(linked_key_results(tree, kpi_id)) if tree is not None else (),
    )


def kpi_views(
    state: StrategyState, tree: TreeState | None = None, *, include_retired: bool = False
) -> list[KpiView]:
    """Every KPI, the north star first, then by name."""
    views = [
        kpi_view(state, k, tree)
        for k, entry in state.kpis.items()
        if include_retired or not entry.retired
    ]
    return sorted(views, key=lambda v: (not v.north_star, v.name.casefold()))


# ------------------------------------------------------------ initiatives


@dataclass(frozen=True)
class InitiativeKeyResult:
    objective_id: UUID
    key_result_id: UUID
    cycle_id: UUID | None
    objective_title: str | None
    title: str | None
    """None when the tree does not know the key result (or no tree was given)."""
    progress: float | None


@dataclass
class InitiativeView(InitiativeDefinition):
    """An initiative as the dashboard shows it, with the key results it moves. Not `frozen`, as
    its definition is the fold's (a value all the same: nothing changes it)."""

    key_results: tuple[InitiativeKeyResult, ...]
    notes: tuple[InitiativeNote, ...]


def initiative_view(
    state: StrategyState, initiative_id: UUID, tree: TreeState | None = None
) -> InitiativeView:
    entry = state.initiatives[initiative_id]
    links = []
    for link in entry.key_results:
        node = tree.objectives.get(link.objective_id) if tree else None
        kr = node.key_results.get(link.key_result_id) if node else None
        links.append(
            InitiativeKeyResult(
                link.objective_id,
                link.key_result_id,
                node.cycle_id if node else None,
                node.title if node else None,
                kr.title if kr else None,
                kr.progress if kr else None,
            )
        )
    return InitiativeView(
        **fields_of(InitiativeDefinition, entry),
        key_results=tuple(links),
        notes=tuple(entry.notes),
    )


@dataclass(frozen=True)
class Initiatives:
    """Which initiatives: those moving an objective's key results, one key result, a cycle's,
    in a status (the filters combine)."""

    objective_id: UUID | None = None
    key_result_id: UUID | None = None
    cycle_id: UUID | None = None
    status: InitiativeStatus | None = None


EVERY_INITIATIVE = Initiatives()


def initiative_views(
    state: StrategyState, tree: TreeState | None = None, which: Initiatives = EVERY_INITIATIVE
) -> list[InitiativeView]:
    """Initiatives in launch order, filtered by the key results they move or their status."""
    objective_id, key_result_id, cycle_id = which.objective_id, which.key_result_id, which.cycle_id
    out = []
    for initiative_id, entry in state.initiatives.items():
        links = entry.key_results
        if objective_id is not None and all(k.objective_id != objective_id for k in links):
            continue
        if key_result_id is not None and all(k.key_result_id != key_result_id for k in links):
            continue
        if cycle_id is not None and (
            tree is None
            or all(
                (node := tree.objectives.get(k.objective_id)) is None or node.cycle_id != cycle_id
                for k in links
            )
        ):
            continue
        if which.status is not None and entry.status != which.status:
            continue
        out.append(initiative_view(state, initiative_id, tree))
    return out


def initiatives_by_key_result(state: StrategyState) -> dict[UUID, list[UUID]]:
    """Key result id → the initiatives moving it (in launch order)."""
    out: dict[UUID, list[UUID]] = {}
    for initiative_id, entry in state.initiatives.items():
        for link in entry.key_results:
            out.setdefault(link.key_result_id, []).append(initiative_id)
    return out
