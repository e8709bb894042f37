"""The copy of an aggregate that the aggregate cache hands to each command.

Over every aggregate of the demo organisation (objectives with check-ins, corrections,
amendments and grades; cycles, teams, people, KPIs, initiatives, the strategy): the copy equals
the original, shares no mutable object with it, and a command on the copy leaves the original
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

from demo import load_demo
from domain.application import OkrLedger
from domain.base import OkrAggregate
from domain.objective import Objective
from tests.unit.builders import ALICE, ctx

_SHARED = (str, int, float, bytes, type(None), UUID, date, Enum, Decimal, frozenset)


@pytest.fixture(scope="module")
def aggregates() -> list[OkrAggregate]:
    app = OkrLedger(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    load_demo(app, seed=7)
    notifications = app.recorder.select_notifications(start=1, limit=1_000_000)
    ids = dict.fromkeys(n.originator_id for n in notifications)
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
    kr.check_ins[0].superseded_by = UUID(int=1)
    kr.check_ins.append(copy.copy(kr.check_ins[0]))
    kr.title = "changed"
    clone.title = "changed"
    clone.trigger_event(Objective.Event, **ctx(ALICE).stamp())
    assert _state(tracked) == before
    assert clone.version == tracked.version + 1
    assert not tracked.pending_events
