"""A command's write path: after a save, the cached aggregates are at the saved version
(`LedgerBase._advance_cache`), so the next command's load reads and decodes nothing of its own
last write; it still reads every event another instance wrote, a stale version is still
refused, and a save that lost the race moves nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.application import OkrLedger
from domain.errors import OkrError, RuleViolated
from domain.ledger.objectives import CheckInEntry
from domain.objective import Objective
from tests.integration.test_aggregate_cache import check_in_values, tracking
from tests.integration.test_cache_copy_property import Tracked, cached, commands, run, stored
from tests.steps import kpi
from tests.unit.builders import ADMIN, ALICE, BOB, an_org, ctx

pytestmark = pytest.mark.postgres


class Decoded:
    """Counts the stored events one application decodes (its mapper's real method runs)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, app: OkrLedger) -> None:
        self.count = 0
        mapper = app.repository.event_store.mapper
        decode = mapper.to_domain_event

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return decode(*args, **kwargs)

        monkeypatch.setattr(mapper, "to_domain_event", counted)


@pytest.fixture
def apps(open_ledger: Callable[[], OkrLedger]) -> tuple[OkrLedger, OkrLedger]:
    """Two application instances on one database (two processes), each with its cache."""
    return open_ledger(), open_ledger()


def test_the_next_command_decodes_nothing_of_the_last_ones_write(
    app: OkrLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, objective_id, kr_id = tracking(app)
    app.check_in(objective_id, kr_id, 110, 7, ctx(ALICE))  # the objective and its cycle cached
    decoded = Decoded(monkeypatch, app)
    cache = app.repository.cache
    assert cache is not None

    for value in (120, 130, 140):
        result = app.check_in(objective_id, kr_id, value, 7, ctx(ALICE))
        # The cached objective is at the saved version before any load reads the store...
        assert cache.get(objective_id).version == result.version

    # ...so no load decoded a check-in the same instance had just written.
    assert decoded.count == 0
    assert check_in_values(app, objective_id, kr_id) == [110.0, 120.0, 130.0, 140.0]
    assert cached(app, objective_id) == stored(app, objective_id)


def test_another_instances_writes_are_still_read_and_a_stale_version_refused(
    apps: tuple[OkrLedger, OkrLedger], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, other = apps
    _, objective_id, kr_id = tracking(app)
    app.check_in(objective_id, kr_id, 110, 7, ctx(ALICE))
    seen = app.get_objective(objective_id).version
    other.check_in(objective_id, kr_id, 120, 7, ctx(BOB))
    other.check_in(objective_id, kr_id, 130, 7, ctx(BOB))
    decoded = Decoded(monkeypatch, app)

    with pytest.raises(RuleViolated) as refused:
        app.check_in.expecting(seen)(objective_id, kr_id, 140, 7, ctx(ALICE))
    assert refused.value.rule == "version_mismatch"
    assert decoded.count == 2  # the other instance's two check-ins, read once
    app.check_in(objective_id, kr_id, 150, 7, ctx(ALICE))
    assert decoded.count == 2
    assert check_in_values(app, objective_id, kr_id) == [110.0, 120.0, 130.0, 150.0]
    assert check_in_values(other, objective_id, kr_id) == [110.0, 120.0, 130.0, 150.0]


def test_a_save_that_lost_the_race_leaves_the_cache_for_the_store(
    apps: tuple[OkrLedger, OkrLedger],
) -> None:
    app, other = apps
    _, objective_id, kr_id = tracking(app)
    for ledger in apps:
        ledger.check_in(objective_id, kr_id, 110, 7, ctx(ALICE))  # cached in both
    ours, our_cycle = app._objective_and_cycle(objective_id)
    theirs, their_cycle = other._objective_and_cycle(objective_id)
    ours.check_in(our_cycle, kr_id, 120, 7, ctx(ALICE))
    theirs.check_in(their_cycle, kr_id, 130, 7, ctx(BOB))  # both decided on one version

    other.save(theirs)
    with pytest.raises(IntegrityError):
        app.save(ours)

    # The refused save moved nothing: the cache is the store at its version, then catches up.
    before = cached(app, objective_id)
    assert before == stored(app, objective_id, before["_version"])
    assert check_in_values(app, objective_id, kr_id) == [110.0, 110.0, 130.0]


@pytest.fixture
def two_tracked(apps: tuple[OkrLedger, OkrLedger]) -> list[Tracked]:
    """An approved objective in an active cycle and a KPI, seen by two instances."""
    app, other = apps
    org = an_org(app)
    objective_id, kr_id = org.approved_objective()
    app.start_cycle(org.q2_id, ctx(ADMIN))
    kpi_id = kpi(app, ctx(ADMIN), "Weekly active teams", "teams", "increase", ALICE, (50, 30))
    return [Tracked(ledger, objective_id, kr_id, kpi_id) for ledger in (app, other)]


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(st.tuples(st.sampled_from([0, 1]), commands), min_size=1, max_size=10))
def test_caches_advanced_by_saves_equal_the_store_with_two_instances(
    two_tracked: list[Tracked], sequence: list[tuple[int, tuple[Any, ...]]]
) -> None:
    """Any sequence of commands, each on either of two instances sharing one database: every
    cached objective, cycle and KPI is the store at its version, and after a load the store
    as it is now."""
    first = two_tracked[0]
    cycle_id = first.app.get_objective(first.objective_id).cycle_id
    ids = (first.objective_id, cycle_id, first.kpi_id)
    for which, command in sequence:
        with contextlib.suppress(OkrError):  # refused: 422, 409 or 404 at the HTTP edge
            run(two_tracked[which], command)
        for t in two_tracked:
            cache = t.app.repository.cache
            assert cache is not None
            for aggregate_id in ids:
                try:
                    before = cached(t.app, aggregate_id)
                except KeyError:
                    continue  # not cached by this instance yet
                assert before == stored(t.app, aggregate_id, before["_version"]), command
        for t in two_tracked:
            for aggregate_id in ids:
                t.app.repository.get(aggregate_id)
                assert cached(t.app, aggregate_id) == stored(t.app, aggregate_id), command


def test_a_bulk_save_moves_the_cache_on_without_replaying_its_events(
    app: OkrLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bulk save (`check_in_many`, thousands of events in an import) leaves the cached
    objective at the saved version as a command's save does, but by taking a copy of the saved
    objective: its events are applied once (to the command's copy), not a second time to the
    cached one."""
    _, objective_id, kr_id = tracking(app)
    app.check_in(objective_id, kr_id, 110, 7, ctx(ALICE))  # the objective and its cycle cached
    entries = [CheckInEntry(objective_id, kr_id, float(v), 7) for v in range(120, 150)]
    applied = 0
    apply = Objective.ProgressReported.apply

    def counted(event: Objective.ProgressReported, objective: Objective) -> None:
        nonlocal applied
        applied += 1
        apply(event, objective)

    monkeypatch.setattr(Objective.ProgressReported, "apply", counted)
    results = app.check_in_many(entries, ctx(ALICE))

    assert applied == len(entries)  # once each, to the objective the command changed
    cache = app.repository.cache
    assert cache is not None
    assert cache.get(objective_id).version == results[-1].version
    assert cached(app, objective_id) == stored(app, objective_id)
    decoded = Decoded(monkeypatch, app)
    app.check_in(objective_id, kr_id, 150, 7, ctx(ALICE))
    assert decoded.count == 0  # the next command read nothing of the bulk save back
    assert check_in_values(app, objective_id, kr_id) == [110.0, *range(120, 151)]
    assert cached(app, objective_id) == stored(app, objective_id)
