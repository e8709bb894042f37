"""How one event class is catalogued: the entry, and the table a narrating module declares.

Each module that narrates events (`projections.narrative`, `projections.strategy_narrative`)
declares its events' entries beside their phrasers, with `ENTRIES.event(...)` as the phraser's
decorator; `projections.catalogue` puts those tables together, in an explicit order, into the
one catalogue every consumer reads. This module imports no narrating module, so no import
circle runs through it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from domain.base import OkrAggregate

E = TypeVar("E")
R = TypeVar("R")


def type_name(event_class: type[Any]) -> str:
    """The event's stable name, `Aggregate.Event` (`Objective.Approved`): its CloudEvents type,
    its audit rows' `event_type`. Event classes are never renamed or moved once data exists."""
    return event_class.__qualname__


@dataclass(frozen=True, slots=True)
class EventEntry:
    """What the read side, the audit trail and the Kafka envelope need to know of one event."""

    event_class: type[OkrAggregate.Event]
    aggregate: type[OkrAggregate]
    narration: Callable[[Any, Any, Any], Any]
    """The phraser: `(context before the event, event, logged) -> Narration`."""
    objective_local: bool = False
    """An objective's event whose rows no other objective's rows read (check-ins, grades): a
    view shard skips it for the objectives it does not own."""
    personal: tuple[str, ...] = ()
    """The event's fields that are personal data: stored sealed under the person's key."""
    ignored_by: tuple[str, ...] = ()
    """Names of folds that deliberately do nothing with this event, said here rather than in
    each fold's `ignores` (so a new event need not touch the folds it leaves alone)."""

    @property
    def type_name(self) -> str:
        return type_name(self.event_class)


def aggregate_of(event_class: type[Any]) -> type[OkrAggregate]:
    """The aggregate class an event class is defined in (`Objective` for `Objective.Approved`)."""
    owner_name = event_class.__qualname__.partition(".")[0]
    owner = vars(sys.modules[event_class.__module__]).get(owner_name)
    if not (isinstance(owner, type) and issubclass(owner, OkrAggregate)):
        raise TypeError(f"{event_class.__qualname__} is not an event of an okrledger aggregate")
    return owner


class Entries:
    """One module's catalogue entries, in the order it declares them."""

    def __init__(self) -> None:
        self._entries: list[EventEntry] = []

    def event(
        self,
        event_class: type[E],
        *,
        objective_local: bool = False,
        personal: tuple[str, ...] = (),
        ignored_by: tuple[str, ...] = (),
    ) -> Callable[[Callable[[Any, E, Any], R]], Callable[[Any, E, Any], R]]:
        """Catalogue `event_class`, narrated by the decorated phraser (which takes its events)."""

        def declare(narration: Callable[[Any, E, Any], R]) -> Callable[[Any, E, Any], R]:
            self._entries.append(
                EventEntry(
                    event_class,  # type: ignore[arg-type]
                    aggregate_of(event_class),
                    narration,
                    objective_local=objective_local,
                    personal=personal,
                    ignored_by=ignored_by,
                )
            )
            return narration

        return declare

    def __iter__(self) -> Iterator[EventEntry]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)
