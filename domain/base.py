"""What every okrledger aggregate and event shares: who acted, why, and in which request."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, ClassVar, TypeVar

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Transcoding

from domain.errors import clean_text

SYSTEM = "system"
"""The actor recorded on events that no person caused (migrations, scheduled jobs)."""


@dataclass(frozen=True)
class CommandContext:
    """Who issues a command and under which request; stamped onto every event it causes."""

    actor: str
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    at: datetime | None = None
    """When the command happened; None means now. Set only when importing history."""
    provenance: Mapping[str, str] | None = None
    """Where the command's values came from (an imported file's name, hash, sheet and row; a
    data source and its fetch), recorded on every event it causes; None for typed input."""

    @classmethod
    def system(cls, request_id: str | None = None) -> CommandContext:
        return cls(actor=SYSTEM, request_id=request_id or uuid.uuid4().hex)

    def now(self) -> datetime:
        return self.at or datetime.now(UTC)

    def stamp(self, reason: str = "") -> dict[str, Any]:
        """The metadata every event carries."""
        stamp: dict[str, Any] = {
            "actor": self.actor,
            "reason": reason,
            "request_id": self.request_id,
            "timestamp": self.at,
        }
        if self.provenance is not None:
            stamp["provenance"] = dict(self.provenance)
        return stamp


class OkrAggregate(Aggregate):
    """Base aggregate: every event carries `actor`, `reason` and `request_id`."""

    class Event(Aggregate.Event):
        actor: str
        reason: str
        request_id: str
        provenance: dict[str, str] | None = field(default=None, kw_only=True)
        """Where the values came from, when they were not typed in (see CommandContext)."""

    class Created(Event, Aggregate.Created):
        pass

    _reasons_required: ClassVar[frozenset[str]] = frozenset()

    _shallow: ClassVar[frozenset[str]] = frozenset()
    """State attributes that are collections of `Immutable` values only (a KPI's measurements):
    a copy copies the collection (a C-level copy of its references) and shares the values."""

    def __deepcopy__(self, memo: dict[int, Any]) -> OkrAggregate:
        """A copy that shares only immutable values (ids, dates, strings, numbers, enums,
        `Immutable` records such as check-ins, which `Records` lists hold).

        The application's aggregate cache hands each command a deep copy, so a refused command
        never changes the cached aggregate. ``copy.deepcopy`` reconstructs every UUID and date
        of a long history one by one; this walks the state's dicts, lists and dataclasses and
        copies them, copies a `Records` list of immutable records at C speed and shares the
        records (so a long history costs a copy of its references, not a walk of its values),
        and leaves anything else to ``copy.deepcopy``.
        """
        clone = object.__new__(type(self))
        shallow = self._shallow
        clone.__dict__.update(
            {
                name: value.copy() if name in shallow else _copied(value)
                for name, value in self.__dict__.items()
            }
        )
        return clone

    def _trigger(
        self,
        event_class: type[OkrAggregate.Event],
        ctx: CommandContext,
        reason: str = "",
        **kw: Any,
    ) -> None:
        """Record an event stamped with the command's context (its reason holds no control
        character but tab and line breaks: every command's reason meets the text rule)."""
        self.trigger_event(event_class, **ctx.stamp(clean_text(reason, "reason")), **kw)

    def _assign(
        self, event_class: type[Assigns], ctx: CommandContext, reason: str = "", **values: Any
    ) -> None:
        """Record the `Assigns` event that sets `values`, unless the aggregate holds them all
        already (then nothing is recorded)."""
        if any(getattr(self, name) != value for name, value in values.items()):
            self._trigger(event_class, ctx, reason, **values)


class Assigns(OkrAggregate.Event):
    """An event that sets the aggregate's attributes named like its own fields to its values
    (`Team.Renamed` sets the team's `name`): what it records is what it changes, nothing more.

    Declared with its fields only; an event that also derives state writes its own `apply`."""

    _assigns: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Each aggregate redefines its events on its own `Event` base (eventsourcing), with no
        # annotations of their own: the fields are those declared on every `Assigns` below.
        names: dict[str, None] = {}
        for klass in reversed(cls.__mro__):
            if issubclass(klass, Assigns) and klass is not Assigns:
                names.update(dict.fromkeys(inspect.get_annotations(klass)))
        cls._assigns = tuple(names)

    def apply(self, aggregate: Any) -> None:
        for name in self._assigns:
            setattr(aggregate, name, getattr(self, name))


class Immutable:
    """A record of an aggregate's state that is never changed in place: a frozen dataclass
    holding immutable values only, replaced (``dataclasses.replace``) when its state changes.

    An aggregate and its copies share such records, so the copy every command gets costs
    what the aggregate's mutable state holds, not its history (see `OkrAggregate.__deepcopy__`).
    """

    __slots__ = ()


T = TypeVar("T")


class Records(list[T]):
    """A list of `Immutable` records (a key result's check-ins): appended to, or a record
    replaced by a new one, never a record changed in place. A copy of the aggregate copies the
    list (its references, at C speed) and shares the records; appending stays O(1), so a
    replay stays linear in the history."""

    __slots__ = ()


_IMMUTABLE = (
    str,
    int,
    float,
    bytes,
    type(None),
    uuid.UUID,
    date,
    Enum,
    Decimal,
    frozenset,
    Immutable,
)
"""Value types shared between an aggregate and its copy (``datetime`` is a ``date``)."""


def _copied(value: Any) -> Any:
    if isinstance(value, _IMMUTABLE):
        return value
    kind = type(value)
    if kind is Records:
        return Records(value)
    if kind is dict:
        return {key: _copied(item) for key, item in value.items()}
    if kind is list:
        return [_copied(item) for item in value]
    if kind is tuple:
        return tuple(_copied(item) for item in value)
    if dataclasses.is_dataclass(value) and hasattr(value, "__dict__"):
        clone = object.__new__(kind)
        clone.__dict__.update({name: _copied(item) for name, item in value.__dict__.items()})
        return clone
    return copy.deepcopy(value)


class DateAsISO(Transcoding):
    """Stores calendar dates (cycle bounds, check-in effective dates) as ISO strings."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)
