"""What every read-side fold shares: logged events in, a JSON-checkpointable state out.

A fold is `state = apply(state, logged)` with no I/O. The same code serves the live views (apply
each new notification), full rebuilds (fold the whole log), as-of queries (fold up to a position,
starting from a checkpoint) and replays (fold frame by frame).

A fold has no clock of its own. Its "now" is the `recorded_at` of the latest event it applied
(`state.cursor.now`), so folding the same events always gives the same state, whenever it runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from types import MappingProxyType
from typing import Any, ClassVar, Generic, Protocol, TypeGuard, TypeVar

from domain.access import AccessToken
from domain.base import OkrAggregate
from domain.channel import ChatChannel
from domain.cycle import Cycle, Phase
from domain.initiative import Initiative
from domain.kpi import Kpi
from domain.person import Person
from domain.quality import QualityPolicy
from domain.strategy import Strategy
from domain.team import Team
from domain.webhook import WebhookEndpoint
from projections import codec

S = TypeVar("S")
FS = TypeVar("FS", bound="FoldState")
E = TypeVar("E")
K = TypeVar("K")


@dataclass(frozen=True, slots=True)
class Logged:
    """A domain event as it sits in the notification log."""

    position: int
    """The notification id: the event's place in the total commit order."""
    recorded_at: datetime
    """Database commit time when known, else the event's own timestamp."""
    event: OkrAggregate.Event

    @classmethod
    def of(
        cls, position: int, event: OkrAggregate.Event, recorded_at: datetime | None = None
    ) -> Logged:
        return cls(position, recorded_at or event.timestamp, event)

    @property
    def event_type(self) -> str:
        """`Aggregate.Event`, e.g. `Objective.Approved`: stable, since event classes never move."""
        return type(self.event).__qualname__


PEOPLE_TEAMS_STRATEGY: tuple[type[OkrAggregate], ...] = (
    Person,
    AccessToken,
    Team,
    Strategy,
    Kpi,
    Initiative,
    QualityPolicy,
    WebhookEndpoint,
    ChatChannel,
)
"""The aggregates besides cycles and objectives, which a fold's `ignores` may name wholesale."""


class Fold(Protocol[S]):
    """A pure fold over the log, with a JSON form of its state for checkpoints and comparison."""

    @property
    def name(self) -> str: ...

    def initial(self) -> S: ...

    def apply(self, state: S, logged: Logged) -> S: ...

    def to_json(self, state: S) -> dict[str, Any]: ...

    def from_json(self, data: dict[str, Any]) -> S: ...


class KindTest(Generic[K]):
    """`isinstance(value, classes)` for the events' classes, answered from a table by the value's
    exact type. Their metaclass makes `isinstance` cost about 0.5 µs per class tried, and folds
    ask it of every event.

        _CHECK_IN = KindTest[Objective.ProgressReported | Objective.CheckInCorrected](
            Objective.ProgressReported, Objective.CheckInCorrected
        )
        if _CHECK_IN(event): ...
    """

    __slots__ = ("classes", "known")

    def __init__(self, *classes: type[Any]) -> None:
        self.classes = classes
        self.known: dict[type[Any], bool] = {}

    def __call__(self, value: object) -> TypeGuard[K]:
        kind = type(value)
        found = self.known.get(kind)
        if found is None:
            found = self.known[kind] = issubclass(kind, self.classes)
        return found


@dataclass
class Cursor:
    """How far a fold has read: the last position applied and its recorded time (the fold's now)."""

    position: int = 0
    now: datetime | None = None


@dataclass
class FoldState:
    cursor: Cursor = field(default_factory=Cursor)


Handler = Callable[[Any, Any, Logged], None]


PHASE_ENTERED: Mapping[type[Cycle.Event], Phase] = MappingProxyType(
    {
        Cycle.Started: Phase.ACTIVE,
        Cycle.GradingOpened: Phase.GRADING,
        Cycle.Closed: Phase.CLOSED,
        Cycle.Reopened: Phase.GRADING,
    }
)
"""The phase each cycle event after `Cycle.Planned` moves its cycle into."""


class Handlers(Generic[FS]):
    """Event type → handler table; events a fold does not know about only move its cursor."""

    def __init__(self) -> None:
        self._table: dict[type[Any], Handler] = {}

    def on(
        self, event_type: type[E]
    ) -> Callable[[Callable[[FS, E, Logged], None]], Callable[[FS, E, Logged], None]]:
        def register(handler: Callable[[FS, E, Logged], None]) -> Callable[[FS, E, Logged], None]:
            self._table[event_type] = handler
            return handler

        return register

    def on_phase_entered(self, enter: Callable[[FS, Cycle.Event, Logged, Phase], None]) -> None:
        """Register `enter` as the handler of every event in `PHASE_ENTERED`, with its phase."""
        for event_type, phase in PHASE_ENTERED.items():
            self.on(event_type)(_entering(enter, phase))

    def restates(
        self, event_type: type[Any], entry: Callable[[FS, Any], object], *names: str
    ) -> None:
        """Handle an event that only restates some fields of an entry of the state (an
        objective, a key result, a KPI): copy `names` from the event onto `entry(state, e)`."""

        def restated(state: FS, e: Any, logged: Logged) -> None:
            target = entry(state, e)
            for name in names:
                setattr(target, name, getattr(e, name))

        self.on(event_type)(restated)

    def handler_for(self, event_type: type[Any]) -> Handler | None:
        return self._table.get(event_type)

    def table(self) -> Mapping[type[Any], Handler]:
        """Event class → handler, read-only."""
        return MappingProxyType(self._table)

    def __contains__(self, event_type: type[Any]) -> bool:
        return event_type in self._table


def _entering(
    enter: Callable[[FS, Cycle.Event, Logged, Phase], None], phase: Phase
) -> Callable[[FS, Cycle.Event, Logged], None]:
    def entered(state: FS, e: Cycle.Event, logged: Logged) -> None:
        enter(state, e, logged, phase)

    return entered


class DataclassFold(Generic[FS]):
    """A fold whose state is a dataclass tree; the codec gives its JSON form.

    `apply` skips events at or before the state's cursor, so continuing from a checkpoint with an
    overlapping page of the log applies nothing twice; otherwise it runs `step` and moves the
    cursor. By default `step` dispatches to the fold's handler table.
    """

    name: ClassVar[str]
    version: ClassVar[int] = 1
    """Bump when the state's shape or what the handlers write changes: older checkpoints are then
    refused, not misread, and stored views rebuilt. The catalogue tests hold each fold's code to
    the fingerprint recorded for its version (`projections.coverage`)."""
    state_type: type[FS]
    handlers: ClassVar[Handlers[Any]] = Handlers()
    ignores: ClassVar[tuple[type[Any], ...]] = ()
    """Catalogued events this fold deliberately does nothing with. An aggregate class stands for
    all its events, for a fold that handles none of them. Every catalogued event is either
    handled (`reactions`, or by a fold in `reads`) or ignored: the catalogue tests hold that."""
    reads: ClassVar[tuple[type[DataclassFold[Any]], ...]] = ()
    """Folds whose state this fold's state holds or phrases against (the alignment tree for the
    comparison): what they handle, this fold handles too, and their code is part of this
    fold's fingerprint."""

    def reactions(self) -> Mapping[type[Any], Callable[..., Any]]:
        """Event class → the code that reacts to it: by default the handler table."""
        return self.handlers.table()

    def initial(self) -> FS:
        return self.state_type()

    def apply(self, state: FS, logged: Logged) -> FS:
        if logged.position <= state.cursor.position:
            return state
        self.step(state, logged)
        state.cursor.position = logged.position
        state.cursor.now = logged.recorded_at
        return state

    def step(self, state: FS, logged: Logged) -> None:
        """Apply one event (the cursor is moved by `apply`)."""
        handler = self.handlers.handler_for(type(logged.event))
        if handler is not None:
            handler(state, logged.event, logged)

    def to_json(self, state: FS) -> dict[str, Any]:
        return {"fold": self.name, "version": self.version, "state": codec.dump(state)}

    def from_json(self, data: dict[str, Any]) -> FS:
        if data.get("fold") != self.name or data.get("version") != self.version:
            raise ValueError(
                f"checkpoint of {data.get('fold')!r} v{data.get('version')}"
                f" does not fit fold {self.name!r} v{self.version}"
            )
        return codec.load(self.state_type, data["state"])


def fields_of(group: type[Any], source: object, **given: Any) -> dict[str, Any]:
    """`source`'s values of the fields of the dataclass `group`, by name, but for those `given`:
    a view made from the fold's entry that shares its field group
    (`KpiView(**fields_of(KpiDefinition, entry), ...)`), an entry made from its event."""
    found = _FIELD_GETTERS.get(group)
    if found is None:
        names = tuple(f.name for f in dataclasses.fields(group))
        found = _FIELD_GETTERS[group] = (names, attrgetter(*names) if len(names) > 1 else None)
    names, get = found
    if given or get is None:
        return {name: given[name] if name in given else getattr(source, name) for name in names}
    return dict(zip(names, get(source), strict=True))  # one C call for a view's many fields


_FIELD_GETTERS: dict[type[Any], tuple[tuple[str, ...], attrgetter[Any] | None]] = {}


def fold(
    a_fold: Fold[S],
    logged_events: Iterable[Logged],
    state: S | None = None,
    *,
    up_to: int | None = None,
) -> S:
    """Apply `logged_events` in order to `state` (default: a fresh one), stopping after `up_to`."""
    current = a_fold.initial() if state is None else state
    for logged in logged_events:
        if up_to is not None and logged.position > up_to:
            break
        current = a_fold.apply(current, logged)
    return current
