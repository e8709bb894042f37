"""An objective command loads the objective and its cycle; when both are cached, their new
events come back in one query (`ChainedApplicationRecorder.select_events_after`), and the
command still decides on the stored state of both."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from domain.application import OkrLedger
from domain.errors import RuleViolated
from infra.chain import ChainedApplicationRecorder
from tests.integration.test_aggregate_cache import check_in_values, tracking
from tests.unit.builders import ADMIN, ALICE, BOB, ctx

pytestmark = pytest.mark.postgres


@pytest.fixture
def apps(open_ledger: Callable[[], OkrLedger]) -> tuple[OkrLedger, OkrLedger]:
    return open_ledger(), open_ledger()


class Queries:
    """Counts the recorder's event reads of one application (the real methods run)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, app: OkrLedger) -> None:
        self.one = 0
        self.many = 0
        recorder = app.recorder
        assert isinstance(recorder, ChainedApplicationRecorder)
        select_one, select_many = recorder.select_events, recorder.select_events_after

        def counted_one(*args: Any, **kwargs: Any) -> Any:
            self.one += 1
            return select_one(*args, **kwargs)

        def counted_many(*args: Any, **kwargs: Any) -> Any:
            self.many += 1
            return select_many(*args, **kwargs)

        monkeypatch.setattr(recorder, "select_events", counted_one)
        monkeypatch.setattr(recorder, "select_events_after", counted_many)


def test_the_objective_and_its_cycle_are_fast_forwarded_in_one_query(
    apps: tuple[OkrLedger, OkrLedger], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, other = apps
    cycle_id, objective_id, kr_id = tracking(app)
    app.check_in(objective_id, kr_id, 110, 7, ctx(ALICE))  # both now cached in `app`
    other.check_in(objective_id, kr_id, 120, 7, ctx(BOB))  # new events `app` has not seen
    queries = Queries(monkeypatch, app)

    result = app.check_in(objective_id, kr_id, 130, 6, ctx(ALICE))

    assert (queries.one, queries.many) == (0, 1)
    assert result.version == other.get_objective(objective_id).version
    assert check_in_values(other, objective_id, kr_id) == [110.0, 120.0, 130.0]

    # The cycle's new events come with the objective's: a cycle closed elsewhere binds.
    for phase_change in (other.open_grading, other.close_cycle):
        phase_change(cycle_id, ctx(ADMIN))
    with pytest.raises(RuleViolated, match="is closed"):
        app.check_in(objective_id, kr_id, 140, 7, ctx(ALICE))
    assert (queries.one, queries.many) == (0, 2)


def test_an_aggregate_not_cached_is_loaded_as_before(
    apps: tuple[OkrLedger, OkrLedger], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, other = apps
    _, objective_id, kr_id = tracking(other)
    queries = Queries(monkeypatch, app)

    app.check_in(objective_id, kr_id, 110, 7, ctx(ALICE))  # neither cached in `app` yet
    assert (queries.one, queries.many) == (2, 0)
    # Both cached now: decided on the cache, conditioned on the store (no read at all,
    # `test_unchanged_commit.py`); the pair's one query when another instance wrote.
    app.check_in(objective_id, kr_id, 120, 7, ctx(ALICE))
    assert (queries.one, queries.many) == (2, 0)
    other.check_in(objective_id, kr_id, 125, 7, ctx(BOB))
    app.check_in(objective_id, kr_id, 130, 7, ctx(ALICE))
    assert (queries.one, queries.many) == (2, 1)
    assert check_in_values(other, objective_id, kr_id) == [110.0, 120.0, 125.0, 130.0]


def test_commands_get_copies_of_the_cached_pair(apps: tuple[OkrLedger, OkrLedger]) -> None:
    """A command mutates what it loaded; the cache must only change through stored events."""
    app, _ = apps
    cycle_id, objective_id, kr_id = tracking(app)
    app.check_in(objective_id, kr_id, 110, 7, ctx(ALICE))
    cache = app.repository.cache
    assert cache is not None

    objective, cycle = app._objective_and_cycle(objective_id)

    assert objective is not cache.get(objective_id)
    assert cycle is not cache.get(cycle_id)
    objective.check_in(cycle, kr_id, 999, 7, ctx(ALICE))  # decided, never saved
    assert check_in_values(app, objective_id, kr_id) == [110.0]
