"""The model's shortcuts answer as the folds' own code does: event kinds looked up once per
class, and the directory, inbox and staleness folds applied in one call per event."""

from __future__ import annotations

from typing import Any

import pytest

from infra.views import model
from infra.views.model import applier, event_kind
from projections.base import DataclassFold
from projections.catalogue import CATALOGUE
from projections.directory import DirectoryFold
from projections.history import CHECK_IN, CORRECTION, OBJECTIVE_EVENT
from projections.inbox import InboxFold
from projections.staleness import StalenessFold
from projections.strategy import StrategyFold
from tests.unit.projections.story import first_quarter


def test_every_catalogued_event_has_the_kind_its_tests_give() -> None:
    tests = {
        "objective": OBJECTIVE_EVENT,
        "check_in": CHECK_IN,
        "correction": CORRECTION,
        "own_objective_only": model._OWN_OBJECTIVE_ONLY,
        "cycle_closed": model._CYCLE_CLOSED,
        "team": model._TEAM_EVENT,
        "cycle": model._CYCLE_EVENT,
        "person": model._PERSON_EVENT,
    }
    seen = {name: 0 for name in tests}
    for entry in CATALOGUE:
        cls = entry.event_class
        event = object.__new__(cls)
        kind = event_kind(cls)
        for name, test in tests.items():
            assert getattr(kind, name) == test(event), (cls, name)
            seen[name] += getattr(kind, name)
        assert kind.strategy == (cls in StrategyFold.handlers)
    assert all(seen.values()), seen  # each kind names at least one catalogued class


@pytest.mark.parametrize("a_fold", [DirectoryFold(), InboxFold(), StalenessFold()])
def test_the_applier_folds_as_the_fold_does(a_fold: DataclassFold[Any]) -> None:
    log = first_quarter().ledger.log()
    assert applier(a_fold) is not a_fold.apply  # the shortcut is taken
    theirs, mine = a_fold.initial(), a_fold.initial()
    apply = applier(a_fold)
    for logged in log + log[:5]:  # replayed events are skipped, as `apply` skips them
        a_fold.apply(theirs, logged)
        apply(mine, logged)
    assert mine == theirs
    assert mine.cursor.position == log[-1].position


def test_the_tree_rows_come_in_chunks_with_the_same_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    from infra.views import store
    from infra.views.model import VIEWS, Model

    built = Model(VIEWS)
    built.apply_all(first_quarter().ledger.log())
    whole = store.entity_rows(built, VIEWS)
    assert len(whole["view_tree_objectives"]) > 2
    monkeypatch.setattr(store, "TREE_ROWS_CHUNK", 2)
    parts = [
        rows for name, rows in store.entity_tables(built, VIEWS) if name == "view_tree_objectives"
    ]
    assert len(parts) > 1 and all(len(rows) <= 2 for rows in parts)
    assert store.entity_rows(built, VIEWS) == whole
