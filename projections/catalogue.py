"""The event catalogue: every event class of every aggregate, in one explicit, ordered list.

Every consumer reads it rather than discovering event classes on its own: the Kafka envelope
(which types it decodes), the audit page (its event type filter), the personal-data mapper
(which fields it seals), the views' shards (which events they skip for objectives they do not
own), and the tests (every fold handles or ignores each catalogued event; every event the
domain defines is catalogued). Each entry holds:

- the event class and its aggregate; its CloudEvents type, `Aggregate.Event`;
- whether it is objective-local (its rows depend on its own objective only);
- its personal-data fields;
- its narration, the phraser that gives its audit row and history sentence.

The entries are declared beside their phrasers (`projections.narrative`, then
`projections.strategy_narrative`) and put together here in that order. docs/adding-an-event.md
shows how to add one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from domain.base import OkrAggregate
from projections import narrative, strategy_narrative
from projections.base import Logged
from projections.entries import EventEntry, type_name
from projections.narrative import Context, Narration, Phraser


class UncataloguedEvent(LookupError):
    """An event class with no catalogue entry: it cannot be narrated, decoded or listed."""


class Catalogue(Sequence[EventEntry]):
    """Entries in declaration order, found by class or by type name."""

    def __init__(self, *parts: Iterable[EventEntry]) -> None:
        self._entries = tuple(entry for part in parts for entry in part)
        self._by_class: dict[type[Any], EventEntry] = {}
        self._by_name: dict[str, EventEntry] = {}
        for entry in self._entries:
            if entry.event_class in self._by_class or entry.type_name in self._by_name:
                raise ValueError(f"{entry.type_name} is catalogued twice")
            self._by_class[entry.event_class] = entry
            self._by_name[entry.type_name] = entry

    def __getitem__(self, index: Any) -> Any:
        return self._entries[index]

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[EventEntry]:
        return iter(self._entries)

    def __contains__(self, value: object) -> bool:
        return value in self._by_class or value in self._entries

    def has(self, event_class: type[Any]) -> bool:
        return event_class in self._by_class

    def entry(self, event_class: type[Any]) -> EventEntry:
        found = self._by_class.get(event_class)
        if found is None:
            raise UncataloguedEvent(
                f"{type_name(event_class)} is not in the event catalogue"
                " (declare it beside its phraser; see docs/adding-an-event.md)"
            )
        return found

    def named(self, name: str) -> EventEntry | None:
        """The entry of a CloudEvents type / audit `event_type` (`Objective.Approved`)."""
        return self._by_name.get(name)

    def classes(self) -> tuple[type[OkrAggregate.Event], ...]:
        return tuple(entry.event_class for entry in self._entries)

    def type_names(self) -> tuple[str, ...]:
        return tuple(entry.type_name for entry in self._entries)

    def of(self, aggregate: type[OkrAggregate]) -> tuple[EventEntry, ...]:
        """The entries of one aggregate's events."""
        return tuple(entry for entry in self._entries if entry.aggregate is aggregate)

    def objective_local(self) -> tuple[type[OkrAggregate.Event], ...]:
        """The objective events no other objective's rows read (check-ins and grades)."""
        return tuple(entry.event_class for entry in self._entries if entry.objective_local)

    def personal_fields(self) -> dict[type[OkrAggregate.Event], tuple[str, ...]]:
        """Event class → its personal-data fields, for the events that carry any."""
        return {entry.event_class: entry.personal for entry in self._entries if entry.personal}


CATALOGUE = Catalogue(narrative.ENTRIES, strategy_narrative.ENTRIES)
"""Every okrledger event, in this order: people, tokens, teams, cycles, objectives, then the
strategy layer (strategy, KPIs, initiatives, quality policy, objectives' strategy links)."""

_PHRASERS: dict[type[Any], Phraser] = {entry.event_class: entry.narration for entry in CATALOGUE}


def narrate(context: Context, logged: Logged) -> Narration:
    """Phrase the event against the context as it stood before it."""
    event = logged.event
    try:
        phraser = _PHRASERS[type(event)]
    except KeyError:
        raise UncataloguedEvent(
            f"{type_name(type(event))} is not in the event catalogue and cannot be narrated"
        ) from None
    return phraser(context, event, logged)


__all__ = [
    "CATALOGUE",
    "Catalogue",
    "EventEntry",
    "UncataloguedEvent",
    "narrate",
    "type_name",
]
