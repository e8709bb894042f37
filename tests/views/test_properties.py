"""Properties of the PostgreSQL views over random valid histories.

For random command sequences (the projections' own `RandomHistory`, written to PostgreSQL while
the live runner follows the log):

- live view == full rebuild == in-memory fold over the log (`Oracle`), for every query;
- as-of(position p) == the live view as it was right after p: the test snapshots the live
  answers at random points while the history is written, and asks for them again at the end
  by position (checkpoints are taken every 7 positions, so most as-of answers start from one).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.readmodels import ReadModels
from infra.views.rebuild import Rebuild
from tests.unit.projections.test_properties import Stages, stages
from tests.views.conftest import (
    Databases,
    PgHistory,
    assert_views_match,
    fresh_views,
    head,
    whole_log,
    without_strategy,
)
from tests.views.conftest import settings as view_settings
from tests.views.oracle import Oracle

pytestmark = pytest.mark.postgres

EXAMPLES = int(os.environ.get("OKR_PROPERTY_EXAMPLES", "6"))
SETTINGS: Callable[[Any], Any] = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

Seen = dict[str, Any]


def seen(readmodels: ReadModels, history: PgHistory) -> Seen:
    """What the live views answer now, for the as-of comparison later."""
    return {
        "trees": {c: readmodels.tree(c) for c in history.cycles},
        "compare": comparison(readmodels.compare(history.cycles)),
        "objectives": {o: readmodels.objective(o) for o in history.objectives},
    }


def as_of(readmodels: ReadModels, before: Seen, position: int) -> Seen:
    """The same questions as `before` asked, by position."""
    return {
        "trees": {c: readmodels.tree(c, position=position) for c in before["trees"]},
        "compare": comparison(readmodels.compare(list(before["trees"]), position=position)),
        "objectives": {o: readmodels.objective(o, position=position) for o in before["objectives"]},
    }


def comparison(answer: dict[str, Any]) -> dict[str, Any]:
    """The figures alone: not the strategy layer, not the position asked for."""
    return {k: v for k, v in without_strategy(answer).items() if k != "position"}


@SETTINGS
@given(drawn=stages, data=st.data())
def test_live_views_equal_the_rebuild_and_the_fold_and_as_of_equals_the_past(
    databases: Databases, drawn: Stages, data: st.DataObject
) -> None:
    with fresh_views(databases) as (_url, app, readmodels):
        readmodels.start()
        history = PgHistory(app)
        snapshots: dict[int, Seen] = {}

        def maybe_snapshot() -> None:
            if data.draw(st.integers(0, 9), label="snapshot now?") == 0:
                position = head(app)
                assert readmodels.wait_for(position, 10)
                snapshots[position] = seen(readmodels, history)

        planning, tracking, grading = drawn
        for steps, then in ((planning, "planning"), (tracking, "active"), (grading, None)):
            for step in steps:
                history.run(step)
                maybe_snapshot()
            if then is not None:
                history.advance_q1(then)
        assert readmodels.wait_for(head(app), 10)

        oracle = Oracle(whole_log(readmodels))
        assert_views_match(readmodels, oracle)
        for position, before in snapshots.items():
            assert as_of(readmodels, before, position) == before, position

        Rebuild(app, view_settings()).run(None)
        assert readmodels.wait_for(head(app), 10)
        assert_views_match(readmodels, oracle)
        for position, before in snapshots.items():
            assert as_of(readmodels, before, position) == before, position


def test_as_of_agrees_with_the_fold_at_every_position(databases: Databases) -> None:
    """A fixed story, every position: trees, objectives, comparison and diffs against the fold."""
    from tests.unit.projections.test_properties import OPERATIONS

    with fresh_views(databases, checkpoint_every=5) as (_url, app, readmodels):
        readmodels.start()
        history = PgHistory(app)
        for n in range(90):
            history.run((OPERATIONS[(n * 7) % len(OPERATIONS)], n % 13, n % 7, n % 11))
            if n in (30, 60):
                history.advance_q1("planning" if n == 30 else "active")
        assert readmodels.wait_for(head(app), 10)
        oracle = Oracle(whole_log(readmodels))
        cycles: list[UUID] = oracle.cycles()
        for position in oracle.positions[::3]:
            for cycle_id in cycles:
                assert readmodels.tree(cycle_id, position=position) == oracle.tree(
                    cycle_id, position
                ), position
            assert without_strategy(
                readmodels.compare(cycles, position=position)
            ) == oracle.compare(cycles, position=position)
        for objective_id in oracle.objectives():
            for position in oracle.positions[::11]:
                assert readmodels.objective(objective_id, position=position) == (
                    oracle.objective(objective_id, position)
                )
        positions = oracle.positions
        for low, high in zip(positions[::17], positions[8::17], strict=False):
            for cycle_id in (None, *cycles):
                assert readmodels.diff(low, high, cycle_id) == oracle.diff(low, high, cycle_id)
