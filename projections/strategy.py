"""The strategy layer's fold: the strategy, KPIs, initiatives and the quality policy.

One fold (`StrategyFold`) keeps all four, since they are small and are read together: the KPI
dashboard colours values with thresholds (`projections.strategy_dashboard`), the strategy map
places themes and KPIs in the strategy's perspectives (`projections.strategy_map`), the
comparison counts initiatives and KPI movements per cycle (`projections.strategy_comparison`).
Those queries also need the objectives (the map, initiatives under their key results, the
comparison) and take the alignment tree's state beside this one; for an as-of answer both are
at the same position.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from domain.access import AccessToken
from domain.channel import ChatChannel
from domain.cycle import Cycle
from domain.initiative import Initiative
from domain.kpi import Kpi
from domain.objective import Objective
from domain.person import Person
from domain.quality import Check, QualityPolicy
from domain.strategy import DEFAULT_PERSPECTIVES, Strategy
from domain.team import Team
from domain.webhook import WebhookEndpoint
from projections import codec
from projections.base import DataclassFold, FoldState, Handlers, Logged, fields_of

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
class KpiDefinition:
    """What defines a KPI now: the fields its entry in the fold and its view share."""

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


@dataclass
class KpiEntry(KpiDefinition):
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
class InitiativeDefinition:
    """What an initiative is now: the fields its entry in the fold and its view share."""

    initiative_id: UUID
    version: int
    title: str
    description: str
    owner_person_id: UUID
    status: str
    launched_at: datetime
    updated_at: datetime


@dataclass
class InitiativeEntry(InitiativeDefinition):
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


_on: Handlers[StrategyState] = Handlers()


class StrategyFold(DataclassFold[StrategyState]):
    name = "strategy"
    state_type = StrategyState
    handlers = _on
    ignores = (
        Person,
        AccessToken,
        Team,
        Cycle,
        Objective,
        WebhookEndpoint,
        ChatChannel,
    )  # objectives' links: the tree's

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
        **fields_of(KpiDefinition, e, kpi_id=e.originator_id, version=e.originator_version),
        defined_at=logged.recorded_at,
        thresholds=[ThresholdChange(logged.recorded_at, e.green, e.amber, e.actor, "")],
    )


_on.restates(Kpi.Renamed, _kpi, "name", "description")
_on.restates(Kpi.OwnerChanged, _kpi, "owner_person_id")
_on.restates(Kpi.Retagged, _kpi, "perspective", "theme_id")


@_on.on(Kpi.ThresholdsChanged)
def _thresholds(state: StrategyState, e: Kpi.ThresholdsChanged, logged: Logged) -> None:
    entry = _kpi(state, e)
    entry.green, entry.amber = e.green, e.amber
    entry.thresholds.append(
        ThresholdChange(logged.recorded_at, e.green, e.amber, e.actor, e.reason)
    )


def _measurement(
    e: Kpi.MeasurementRecorded | Kpi.MeasurementCorrected,
    *,
    supersedes: UUID | None = None,
    reason: str = "",
) -> MeasurementEntry:
    return MeasurementEntry(
        e.measurement_id,
        e.period,
        e.starts_on,
        e.ends_on,
        e.value,
        e.note,
        e.timestamp,
        e.actor,
        supersedes=supersedes,
        reason=reason,
    )


@_on.on(Kpi.MeasurementRecorded)
def _measured(state: StrategyState, e: Kpi.MeasurementRecorded, logged: Logged) -> None:
    _kpi(state, e).measurements.append(_measurement(e))


@_on.on(Kpi.MeasurementCorrected)
def _corrected(state: StrategyState, e: Kpi.MeasurementCorrected, logged: Logged) -> None:
    entry = _kpi(state, e)
    for old in entry.measurements:
        if old.measurement_id == e.supersedes:
            old.superseded_by = e.measurement_id
    entry.measurements.append(_measurement(e, supersedes=e.supersedes, reason=e.reason))


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


def as_json(value: object) -> Any:
    return codec.dump(value)
