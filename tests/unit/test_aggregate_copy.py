"""The copy of an aggregate that the aggregate cache hands to each command.

Over every aggregate of the demo organisation (objectives with check-ins, corrections,
amendments and grades; cycles, teams, people, KPIs, initiatives, the strategy): the copy equals
the original, shares no mutable object with it but `Immutable` records (frozen, replaced when
they change: check-ins, a KPI's measurements), and a command on the copy leaves the original
as it was.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

import pytest

from domain.base import Immutable, OkrAggregate
from domain.objective import Objective
from tests.conftest import DemoInMemory
from tests.unit.builders import ALICE, ctx

_SHARED = (str, int, float, bytes, type(None), UUID, date, Enum, Decimal, frozenset, Immutable)


@pytest.fixture(scope="module")
def aggregates(demo_in_memory: DemoInMemory) -> list[OkrAggregate]:
    app = demo_in_memory.app
    ids = dict.fromkeys(n.originator_id for n in demo_in_memory.notifications)
    found = [app.repository.get(i) for i in ids]
    assert {type(a).__name__ for a in found} >= {"Objective", "Cycle", "Team", "Person"}
    return found


def _mutables(value: Any) -> Iterator[object]:
    """Every mutable object reachable from an aggregate's state (the aggregate included)."""
    if isinstance(value, _SHARED):
        return
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from _mutables(item)
    elif isinstance(value, list | tuple | set):
        for item in value:
            yield from _mutables(item)
    elif hasattr(value, "__dict__"):
        for item in vars(value).values():
            yield from _mutables(item)


def _state(value: Any) -> Any:
    """A comparable rendering of an aggregate's state (aggregates themselves don't define ==)."""
    if isinstance(value, OkrAggregate):
        return (type(value), _state(vars(value)))
    if isinstance(value, dict):
        return {key: _state(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_state(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value), _state(vars(value)))
    return value


def _records(value: Any) -> Iterator[Immutable]:
    """Every `Immutable` record reachable from an aggregate's state."""
    if isinstance(value, Immutable):
        yield value
        value = vars(value)
    elif isinstance(value, _SHARED):
        return
    elif hasattr(value, "__dict__"):  # the aggregate, a key result
        value = vars(value)
    if isinstance(value, dict):
        for item in value.values():
            yield from _records(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _records(item)


def test_shared_records_are_frozen(aggregates: list[OkrAggregate]) -> None:
    records = [r for aggregate in aggregates for r in _records(aggregate)]
    assert {type(r).__name__ for r in records} >= {"CheckIn", "Measurement"}
    for record in records:
        assert dataclasses.is_dataclass(record)
        params = getattr(type(record), "__dataclass_params__")  # noqa: B009
        assert params.frozen, type(record).__name__
        for name, value in vars(record).items():
            assert isinstance(value, _SHARED), (type(record).__name__, name)


def test_the_copy_equals_the_original_and_shares_nothing_mutable(
    aggregates: list[OkrAggregate],
) -> None:
    for aggregate in aggregates:
        clone = copy.deepcopy(aggregate)
        assert _state(clone) == _state(aggregate) == _state(copy.copy(aggregate))
        originals = [id(o) for o in _mutables(aggregate)]
        # Nothing is reachable twice, so copying a tree loses no aliasing a fold relies on...
        assert len(originals) == len(set(originals)), type(aggregate).__name__
        # ...and the copy holds none of the original's mutable objects.
        assert not set(originals) & {id(o) for o in _mutables(clone)}, type(aggregate).__name__


def test_a_command_on_the_copy_leaves_the_original_as_it_was(
    aggregates: list[OkrAggregate],
) -> None:
    objectives = [a for a in aggregates if isinstance(a, Objective)]
    tracked = next(o for o in objectives if any(kr.check_ins for kr in o.key_results.values()))
    before = _state(tracked)
    clone = copy.deepcopy(tracked)
    kr = next(kr for kr in clone.key_results.values() if kr.check_ins)
    first = next(c for c in kr.check_ins if c.superseded_by is None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.superseded_by = UUID(int=1)  # type: ignore[misc]
    clone.trigger_event(
        Objective.CheckInCorrected,
        check_in_id=UUID(int=2),
        key_result_id=kr.id,
        supersedes=first.id,
        value=1.0,
        confidence=5,
        note="",
        effective_on=first.effective_on,
        **ctx(ALICE).stamp("typo"),
    )
    clone._change_key_result(kr.id, title="changed")
    clone.title = "changed"
    assert _state(tracked) == before
    replaced = next(c for c in clone.key_results[kr.id].check_ins if c.id == first.id)
    assert replaced.superseded_by == UUID(int=2)
    assert first.superseded_by is None
    assert clone.version == tracked.version + 1
    assert not tracked.pending_events
