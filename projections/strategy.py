"""The strategy layer's read side: the strategy, KPIs, initiatives and the quality policy.

One fold (`StrategyFold`) keeps all four, since they are small and are read together: the KPI
dashboard colours values with thresholds, the strategy map places themes and KPIs in the
strategy's perspectives, the comparison counts initiatives and KPI movements per cycle. Queries
that also need the objectives (the map, initiatives under their key results, the comparison)
take the alignment tree's state beside this one; for an as-of answer both are folded to the same
position.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from statistics import fmean
from typing import Any
from uuid import UUID

from domain.access import AccessToken
from domain.cycle import Cycle
from domain.initiative import Initiative
from domain.kpi import Kpi, status_colour
from domain.objective import Objective
from domain.person import Person
from domain.quality import Check, QualityPolicy
from domain.strategy import DEFAULT_PERSPECTIVES, Strategy
from domain.team import Team
from projections import codec
from projections.base import DataclassFold, FoldState, Handlers, Logged
from projections.entries import type_name
from projections.tree import ObjectiveView, TreeState, objective_view

# ------------------------------------------------------------------ state


@dataclass
class ThemeEntry:
    theme_id: UUID
    name: str
    description: str
    perspective: str
    drives: list[UUID] = field(default_factory=list)
    retired: bool = False


@dataclass
class StrategyEntry:
    version: int
    defined_at: datetime
    updated_at: datetime
    mission: str = ""
    vision: str = ""
    values: list[str] = field(default_factory=list)
    perspectives: dict[str, str] = field(default_factory=dict)
    """Key → name, top row first."""
    themes: dict[UUID, ThemeEntry] = field(default_factory=dict)
    north_star_kpi_id: UUID | None = None


@dataclass
class MeasurementEntry:
    measurement_id: UUID
    period: str
    starts_on: date
    ends_on: date
    value: float
    note: str
    recorded_at: datetime
    """When it was recorded (transaction time; the period is the valid time)."""
    actor: str
    supersedes: UUID | None = None
    superseded_by: UUID | None = None
    reason: str = ""

    def order(self) -> tuple[date, date, datetime]:
        """As `domain.kpi.Kpi.live_measurements` orders them."""
        return (self.ends_on, self.starts_on, self.recorded_at)


@dataclass
class ThresholdChange:
    recorded_at: datetime
    green: float
    amber: float
    actor: str
    reason: str


@dataclass
class KpiEntry:
    kpi_id: UUID
    version: int
    name: str
    description: str
    unit: str
    direction: str
    owner_person_id: UUID
    green: float
    amber: float
    perspective: str | None
    theme_id: UUID | None
    defined_at: datetime
    retired: bool = False
    measurements: list[MeasurementEntry] = field(default_factory=list)
    """Every measurement recorded, corrected ones included, in recording order."""
    thresholds: list[ThresholdChange] = field(default_factory=list)
    """The thresholds since definition, the first one included."""

    @property
    def live(self) -> list[MeasurementEntry]:
        return sorted(
            (m for m in self.measurements if m.superseded_by is None), key=MeasurementEntry.order
        )


@dataclass
class KeyResultLink:
    objective_id: UUID
    key_result_id: UUID


@dataclass
class InitiativeNote:
    version: int
    text: str
    actor: str
    recorded_at: datetime


@dataclass
class InitiativeEntry:
    initiative_id: UUID
    version: int
    title: str
    description: str
    owner_person_id: UUID
    status: str
    launched_at: datetime
    updated_at: datetime
    key_results: list[KeyResultLink] = field(default_factory=list)
    notes: list[InitiativeNote] = field(default_factory=list)


@dataclass
class ChangeMark:
    """An event of the strategy layer, for counting changes in a period."""

    position: int
    recorded_at: datetime
    event_type: str
    entity_id: UUID


@dataclass
class StrategyState(FoldState):
    strategy: StrategyEntry | None = None
    kpis: dict[UUID, KpiEntry] = field(default_factory=dict)
    initiatives: dict[UUID, InitiativeEntry] = field(default_factory=dict)
    quality: dict[str, str] = field(default_factory=dict)
    """Check → off | warn | block, once the policy was configured."""
    changes: list[ChangeMark] = field(default_factory=list)


_STRATEGY_EVENT = f"{Strategy.__name__}."
_THRESHOLDS_CHANGED = type_name(Kpi.ThresholdsChanged)

_on: Handlers[StrategyState] = Handlers()


class StrategyFold(DataclassFold[StrategyState]):
    name = "strategy"
    state_type = StrategyState
    handlers = _on
    ignores = (Person, AccessToken, Team, Cycle, Objective)  # objectives' links: the tree's

    def step(self, state: StrategyState, logged: Logged) -> None:
        handler = self.handlers.handler_for(type(logged.event))
        if handler is None:
            return
        handler(state, logged.event, logged)
        state.changes.append(
            ChangeMark(
                logged.position,
                logged.recorded_at,
                logged.event_type,
                logged.event.originator_id,
            )
        )


# --------------------------------------------------------------- strategy


def _strategy(state: StrategyState, e: Strategy.Event, logged: Logged) -> StrategyEntry:
    entry = state.strategy
    assert entry is not None
    entry.version = e.originator_version
    entry.updated_at = logged.recorded_at
    return entry


@_on.on(Strategy.Defined)
def _defined(state: StrategyState, e: Strategy.Defined, logged: Logged) -> None:
    state.strategy = StrategyEntry(
        version=e.originator_version,
        defined_at=logged.recorded_at,
        updated_at=logged.recorded_at,
        mission=e.mission,
        vision=e.vision,
        values=list(e.values),
        perspectives={p["key"]: p["name"] for p in e.perspectives},
    )


@_on.on(Strategy.MissionRestated)
def _mission(state: StrategyState, e: Strategy.MissionRestated, logged: Logged) -> None:
    _strategy(state, e, logged).mission = e.mission


@_on.on(Strategy.VisionRestated)
def _vision(state: StrategyState, e: Strategy.VisionRestated, logged: Logged) -> None:
    _strategy(state, e, logged).vision = e.vision


@_on.on(Strategy.ValuesRestated)
def _values(state: StrategyState, e: Strategy.ValuesRestated, logged: Logged) -> None:
    _strategy(state, e, logged).values = list(e.values)


@_on.on(Strategy.PerspectiveAdded)
def _perspective_added(state: StrategyState, e: Strategy.PerspectiveAdded, logged: Logged) -> None:
    _strategy(state, e, logged).perspectives[e.key] = e.name


@_on.on(Strategy.PerspectiveRenamed)
def _perspective_renamed(
    state: StrategyState, e: Strategy.PerspectiveRenamed, logged: Logged
) -> None:
    _strategy(state, e, logged).perspectives[e.key] = e.name


@_on.on(Strategy.PerspectiveRemoved)
def _perspective_removed(
    state: StrategyState, e: Strategy.PerspectiveRemoved, logged: Logged
) -> None:
    _strategy(state, e, logged).perspectives.pop(e.key, None)


@_on.on(Strategy.PerspectivesReordered)
def _reordered(state: StrategyState, e: Strategy.PerspectivesReordered, logged: Logged) -> None:
    entry = _strategy(state, e, logged)
    entry.perspectives = {k: entry.perspectives[k] for k in e.keys}


@_on.on(Strategy.ThemeAdded)
def _theme_added(state: StrategyState, e: Strategy.ThemeAdded, logged: Logged) -> None:
    _strategy(state, e, logged).themes[e.theme_id] = ThemeEntry(
        e.theme_id, e.name, e.description, e.perspective
    )


@_on.on(Strategy.ThemeRevised)
def _theme_revised(state: StrategyState, e: Strategy.ThemeRevised, logged: Logged) -> None:
    theme = _strategy(state, e, logged).themes[e.theme_id]
    theme.name, theme.description, theme.perspective = e.name, e.description, e.perspective


@_on.on(Strategy.ThemeDrivesChanged)
def _theme_drives(state: StrategyState, e: Strategy.ThemeDrivesChanged, logged: Logged) -> None:
    _strategy(state, e, logged).themes[e.theme_id].drives = list(e.drives)


@_on.on(Strategy.ThemeRetired)
def _theme_retired(state: StrategyState, e: Strategy.ThemeRetired, logged: Logged) -> None:
    entry = _strategy(state, e, logged)
    entry.themes[e.theme_id].retired = True
    entry.themes[e.theme_id].drives = []
    for theme in entry.themes.values():
        if e.theme_id in theme.drives:
            theme.drives.remove(e.theme_id)


@_on.on(Strategy.NorthStarChosen)
def _north_star(state: StrategyState, e: Strategy.NorthStarChosen, logged: Logged) -> None:
    _strategy(state, e, logged).north_star_kpi_id = e.kpi_id


# -------------------------------------------------------------------- KPIs


def _kpi(state: StrategyState, e: Kpi.Event) -> KpiEntry:
    entry = state.kpis[e.originator_id]
    entry.version = e.originator_version
    return entry


@_on.on(Kpi.Defined)
def _kpi_defined(state: StrategyState, e: Kpi.Defined, logged: Logged) -> None:
    state.kpis[e.originator_id] = KpiEntry(
        kpi_id=e.originator_id,
        version=e.originator_version,
        name=e.name,
        description=e.description,
        unit=e.unit,
        direction=e.direction,
        owner_person_id=e.owner_person_id,
        green=e.green,
        amber=e.amber,
        perspective=e.perspective,
        theme_id=e.theme_id,
        defined_at=logged.recorded_at,
        thresholds=[ThresholdChange(logged.recorded_at, e.green, e.amber, e.actor, "")],
    )


@_on.on(Kpi.Renamed)
def _kpi_renamed(state: StrategyState, e: Kpi.Renamed, logged: Logged) -> None:
    entry = _kpi(state, e)
    entry.name, entry.description = e.name, e.description


@_on.on(Kpi.OwnerChanged)
def _kpi_owner(state: StrategyState, e: Kpi.OwnerChanged, logged: Logged) -> None:
    _kpi(state, e).owner_person_id = e.owner_person_id


@_on.on(Kpi.Retagged)
def _kpi_retagged(state: StrategyState, e: Kpi.Retagged, logged: Logged) -> None:
    entry = _kpi(state, e)
    entry.perspective, entry.theme_id = e.perspective, e.theme_id


@_on.on(Kpi.ThresholdsChanged)
def _thresholds(state: StrategyState, e: Kpi.ThresholdsChanged, logged: Logged) -> None:
    entry = _kpi(state, e)
    entry.green, entry.amber = e.green, e.amber
    entry.thresholds.append(
        ThresholdChange(logged.recorded_at, e.green, e.amber, e.actor, e.reason)
    )


@_on.on(Kpi.MeasurementRecorded)
def _measured(state: StrategyState, e: Kpi.MeasurementRecorded, logged: Logged) -> None:
    _kpi(state, e).measurements.append(
        MeasurementEntry(
            e.measurement_id,
            e.period,
            e.starts_on,
            e.ends_on,
            e.value,
            e.note,
            e.timestamp,
            e.actor,
        )
    )


@_on.on(Kpi.MeasurementCorrected)
def _corrected(state: StrategyState, e: Kpi.MeasurementCorrected, logged: Logged) -> None:
    entry = _kpi(state, e)
    for old in entry.measurements:
        if old.measurement_id == e.supersedes:
            old.superseded_by = e.measurement_id
    entry.measurements.append(
        MeasurementEntry(
            e.measurement_id,
            e.period,
            e.starts_on,
            e.ends_on,
            e.value,
            e.note,
            e.timestamp,
            e.actor,
            supersedes=e.supersedes,
            reason=e.reason,
        )
    )


@_on.on(Kpi.Retired)
def _kpi_retired(state: StrategyState, e: Kpi.Retired, logged: Logged) -> None:
    _kpi(state, e).retired = True


# ------------------------------------------------------------- initiatives


def _initiative(state: StrategyState, e: Initiative.Event, logged: Logged) -> InitiativeEntry:
    entry = state.initiatives[e.originator_id]
    entry.version = e.originator_version
    entry.updated_at = logged.recorded_at
    return entry


def _note(entry: InitiativeEntry, e: Initiative.Event, text: str) -> None:
    if text:
        entry.notes.append(InitiativeNote(e.originator_version, text, e.actor, e.timestamp))


@_on.on(Initiative.Launched)
def _launched(state: StrategyState, e: Initiative.Launched, logged: Logged) -> None:
    state.initiatives[e.originator_id] = InitiativeEntry(
        initiative_id=e.originator_id,
        version=e.originator_version,
        title=e.title,
        description=e.description,
        owner_person_id=e.owner_person_id,
        status="planned",
        launched_at=logged.recorded_at,
        updated_at=logged.recorded_at,
        key_results=[KeyResultLink(k["objective_id"], k["key_result_id"]) for k in e.key_results],
    )


@_on.on(Initiative.Retitled)
def _retitled(state: StrategyState, e: Initiative.Retitled, logged: Logged) -> None:
    entry = _initiative(state, e, logged)
    entry.title, entry.description = e.title, e.description


@_on.on(Initiative.OwnerChanged)
def _initiative_owner(state: StrategyState, e: Initiative.OwnerChanged, logged: Logged) -> None:
    _initiative(state, e, logged).owner_person_id = e.owner_person_id


@_on.on(Initiative.KeyResultLinked)
def _linked(state: StrategyState, e: Initiative.KeyResultLinked, logged: Logged) -> None:
    _initiative(state, e, logged).key_results.append(KeyResultLink(e.objective_id, e.key_result_id))


@_on.on(Initiative.KeyResultUnlinked)
def _unlinked(state: StrategyState, e: Initiative.KeyResultUnlinked, logged: Logged) -> None:
    entry = _initiative(state, e, logged)
    entry.key_results = [
        k
        for k in entry.key_results
        if (k.objective_id, k.key_result_id) != (e.objective_id, e.key_result_id)
    ]


def _status_handler(status: str) -> Any:
    def handler(state: StrategyState, e: Any, logged: Logged) -> None:
        entry = _initiative(state, e, logged)
        entry.status = status
        _note(entry, e, e.note)

    return handler


_on.on(Initiative.Started)(_status_handler("in_progress"))
_on.on(Initiative.Completed)(_status_handler("done"))
_on.on(Initiative.Cancelled)(_status_handler("cancelled"))
_on.on(Initiative.Reopened)(_status_handler("in_progress"))


@_on.on(Initiative.NoteAdded)
def _note_added(state: StrategyState, e: Initiative.NoteAdded, logged: Logged) -> None:
    _note(_initiative(state, e, logged), e, e.note)


# ------------------------------------------------------------ quality policy


@_on.on(QualityPolicy.Adopted)
def _adopted(state: StrategyState, e: QualityPolicy.Adopted, logged: Logged) -> None:
    state.quality = {c.value: "warn" for c in Check}


@_on.on(QualityPolicy.CheckConfigured)
def _configured(state: StrategyState, e: QualityPolicy.CheckConfigured, logged: Logged) -> None:
    state.quality[e.check] = e.level


def quality_levels(state: StrategyState) -> dict[str, str]:
    """Check → level (every check warns until configured)."""
    return {c.value: state.quality.get(c.value, "warn") for c in Check}


# ================================================================= queries


def perspectives(state: StrategyState) -> list[tuple[str, str]]:
    """(key, name), top row first: the strategy's, or the Balanced Scorecard's four."""
    if state.strategy is None:
        return list(DEFAULT_PERSPECTIVES)
    return list(state.strategy.perspectives.items())


def live_themes(state: StrategyState) -> list[ThemeEntry]:
    if state.strategy is None:
        return []
    return [t for t in state.strategy.themes.values() if not t.retired]


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


@dataclass(frozen=True)
class KpiView:
    kpi_id: UUID
    version: int
    name: str
    description: str
    unit: str
    direction: str
    owner_person_id: UUID
    green: float
    amber: float
    perspective: str | None
    theme_id: UUID | None
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
        kpi_id=kpi.kpi_id,
        version=kpi.version,
        name=kpi.name,
        description=kpi.description,
        unit=kpi.unit,
        direction=kpi.direction,
        owner_person_id=kpi.owner_person_id,
        green=kpi.green,
        amber=kpi.amber,
        perspective=kpi.perspective,
        theme_id=kpi.theme_id,
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


@dataclass(frozen=True)
class InitiativeView:
    initiative_id: UUID
    version: int
    title: str
    description: str
    owner_person_id: UUID
    status: str
    launched_at: datetime
    updated_at: datetime
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
        initiative_id=entry.initiative_id,
        version=entry.version,
        title=entry.title,
        description=entry.description,
        owner_person_id=entry.owner_person_id,
        status=entry.status,
        launched_at=entry.launched_at,
        updated_at=entry.updated_at,
        key_results=tuple(links),
        notes=tuple(entry.notes),
    )


def initiative_views(
    state: StrategyState,
    tree: TreeState | None = None,
    *,
    objective_id: UUID | None = None,
    key_result_id: UUID | None = None,
    cycle_id: UUID | None = None,
    status: str | None = None,
) -> list[InitiativeView]:
    """Initiatives in launch order, filtered by the key results they move or their status."""
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
        if status is not None and entry.status != status:
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


# ---------------------------------------------------------- strategy map


def colour_of(view: ObjectiveView) -> str:
    """An objective's colour: from its score once graded, else from its health; grey before
    tracking starts."""
    if view.state == "abandoned":
        return "grey"
    if view.score is not None:
        return "green" if view.score >= 0.7 else "amber" if view.score >= 0.4 else "red"
    return {"on_track": "green", "at_risk": "amber", "off_track": "red"}.get(
        view.health or "", "grey"
    )


_WEIGHT = {"green": 1.0, "amber": 0.5, "red": 0.0}


def blend(colours: Iterable[str]) -> str:
    """The colour of a group: the mean of green 1, amber 0.5, red 0 (grey ones left out)."""
    scored = [_WEIGHT[c] for c in colours if c in _WEIGHT]
    if not scored:
        return "grey"
    mean = fmean(scored)
    return "green" if mean >= 0.75 else "amber" if mean >= 0.4 else "red"


@dataclass(frozen=True)
class MapObjective:
    objective_id: UUID
    title: str
    owner_team_id: UUID | None
    owner_person_id: UUID | None
    theme_id: UUID | None
    perspective: str
    status: str
    colour: str
    progress: float | None
    score: float | None
    private: bool


@dataclass(frozen=True)
class MapKpi:
    kpi_id: UUID
    name: str
    theme_id: UUID | None
    perspective: str
    north_star: bool
    current_value: float | None
    unit: str
    colour: str


@dataclass(frozen=True)
class MapTheme:
    theme_id: UUID
    name: str
    description: str
    perspective: str
    colour: str
    objective_ids: tuple[UUID, ...]
    kpi_ids: tuple[UUID, ...]


@dataclass(frozen=True)
class MapRow:
    perspective: str
    name: str
    themes: tuple[MapTheme, ...]
    objectives: tuple[MapObjective, ...]
    kpis: tuple[MapKpi, ...]


@dataclass(frozen=True)
class MapLink:
    kind: str
    """`aligns_to` (objective → the nearest placed objective above it), `drives` (theme →
    theme, from the strategy's cause and effect), `measured_by` (objective → a KPI one of its
    key results follows)."""
    source: UUID
    target: UUID


@dataclass(frozen=True)
class StrategyMap:
    cycle_id: UUID
    mission: str
    vision: str
    rows: tuple[MapRow, ...]
    unplaced: tuple[MapObjective, ...]
    """Objectives with no perspective or theme."""
    links: tuple[MapLink, ...]


def strategy_map(state: StrategyState, tree: TreeState, cycle_id: UUID) -> StrategyMap:
    """Perspectives as rows (top first), each with its themes, objectives and KPIs."""
    themes = {t.theme_id: t for t in live_themes(state)}
    rows = perspectives(state)
    keys = {key for key, _ in rows}
    placed: dict[UUID, MapObjective] = {}
    unplaced: list[MapObjective] = []
    for objective_id in tree.cycle_objectives.get(cycle_id, []):
        node = tree.objectives[objective_id]
        if node.status == "abandoned":
            continue
        view = objective_view(tree, objective_id)
        theme = themes.get(node.theme_id) if node.theme_id else None
        perspective = theme.perspective if theme else node.perspective
        item = MapObjective(
            objective_id,
            node.title,
            node.owner_team_id,
            node.owner_person_id,
            theme.theme_id if theme else None,
            perspective or "",
            view.state,
            colour_of(view),
            view.progress,
            view.score,
            node.private,
        )
        if perspective in keys:
            placed[objective_id] = item
        else:
            unplaced.append(item)
    north = state.strategy.north_star_kpi_id if state.strategy else None
    kpis: list[MapKpi] = []
    for view_ in kpi_views(state):
        perspective = (
            themes[view_.theme_id].perspective
            if view_.theme_id in themes
            else view_.perspective or ""
        )
        if perspective in keys:
            kpis.append(
                MapKpi(
                    view_.kpi_id,
                    view_.name,
                    view_.theme_id if view_.theme_id in themes else None,
                    perspective,
                    view_.kpi_id == north,
                    view_.current_value,
                    view_.unit,
                    view_.status or "grey",
                )
            )
    out_rows = []
    for key, name in rows:
        row_objectives = tuple(o for o in placed.values() if o.perspective == key)
        row_kpis = tuple(k for k in kpis if k.perspective == key)
        row_themes = tuple(
            MapTheme(
                t.theme_id,
                t.name,
                t.description,
                key,
                blend(
                    [o.colour for o in row_objectives if o.theme_id == t.theme_id]
                    + [k.colour for k in row_kpis if k.theme_id == t.theme_id]
                ),
                tuple(o.objective_id for o in row_objectives if o.theme_id == t.theme_id),
                tuple(k.kpi_id for k in row_kpis if k.theme_id == t.theme_id),
            )
            for t in themes.values()
            if t.perspective == key
        )
        out_rows.append(MapRow(key, name, row_themes, row_objectives, row_kpis))
    return StrategyMap(
        cycle_id=cycle_id,
        mission=state.strategy.mission if state.strategy else "",
        vision=state.strategy.vision if state.strategy else "",
        rows=tuple(out_rows),
        unplaced=tuple(unplaced),
        links=tuple(_map_links(tree, placed, themes, {k.kpi_id for k in kpis})),
    )


def _map_links(
    tree: TreeState,
    placed: dict[UUID, MapObjective],
    themes: dict[UUID, ThemeEntry],
    kpi_ids: set[UUID],
) -> list[MapLink]:
    links: list[MapLink] = []
    for objective_id in placed:
        parent = tree.objectives[objective_id].parent_objective_id
        seen = {objective_id}
        while parent is not None and parent not in placed and parent not in seen:
            seen.add(parent)
            node = tree.objectives.get(parent)
            parent = node.parent_objective_id if node else None
        if parent is not None and parent in placed and parent != objective_id:
            links.append(MapLink("aligns_to", objective_id, parent))
    for theme in themes.values():
        links.extend(MapLink("drives", theme.theme_id, target) for target in theme.drives)
    for objective_id in placed:
        node = tree.objectives[objective_id]
        for kpi_id in dict.fromkeys(kr.kpi_id for kr in node.live_key_results if kr.kpi_id):
            if kpi_id in kpi_ids:
                links.append(MapLink("measured_by", objective_id, kpi_id))
    return links


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


def as_json(value: object) -> Any:
    return codec.dump(value)
