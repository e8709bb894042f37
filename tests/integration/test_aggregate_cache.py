"""The aggregate cache: application instances (one per process in production) keep aggregates in
memory, and still decide every command on the stored state and never lose an update.

Each instance fast-forwards a cached aggregate on load; a save is checked against the stored
versions, so two commands decided on the same version cannot both land.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError

from domain.application import OkrLedger
from domain.errors import InvalidValue, RuleViolated
from tests.unit.builders import ADMIN, ALICE, BOB, an_org, ctx

pytestmark = pytest.mark.postgres


@pytest.fixture
def apps(open_ledger: Callable[[], OkrLedger]) -> tuple[OkrLedger, OkrLedger]:
    """Two application instances on one database, each with its own cache."""
    first, second = open_ledger(), open_ledger()
    assert first.repository.cache is not None and second.repository.cache is not None
    return first, second


def check_in_values(app: OkrLedger, objective_id: UUID, kr_id: UUID) -> list[float]:
    return [c.value for c in app.get_objective(objective_id).key_results[kr_id].check_ins]


def tracking(app: OkrLedger) -> tuple[UUID, UUID, UUID]:
    """An active cycle with an approved objective: (cycle, objective, key result)."""
    org = an_org(app)
    objective_id, kr_id = org.approved_objective()
    app.start_cycle(org.q2_id, ctx(ADMIN))
    return org.q2_id, objective_id, kr_id


def test_each_instance_sees_the_others_writes_through_its_cache(
    apps: tuple[OkrLedger, OkrLedger],
) -> None:
    app, other = apps
    cycle_id, objective_id, kr_id = tracking(app)
    for ledger in apps:  # both caches hold the objective and the active cycle
        ledger.get_objective(objective_id)
        ledger.get_cycle(cycle_id)

    app.check_in(objective_id, kr_id, 110, 7, ctx(ALICE))
    app.check_in(objective_id, kr_id, 120, 7, ctx(ALICE))
    result = other.check_in(objective_id, kr_id, 130, 6, ctx(BOB))

    assert result.version == app.get_objective(objective_id).version
    for ledger in apps:
        assert check_in_values(ledger, objective_id, kr_id) == [110.0, 120.0, 130.0]

    # A phase change made through one instance binds commands decided by the other.
    other.open_grading(cycle_id, ctx(ADMIN))
    other.close_cycle(cycle_id, ctx(ADMIN))
    with pytest.raises(RuleViolated) as refused:
        app.check_in(objective_id, kr_id, 140, 7, ctx(ALICE))
    assert refused.value.rule == "wrong_cycle_phase"
    assert check_in_values(app, objective_id, kr_id) == [110.0, 120.0, 130.0]


def test_a_refused_command_leaves_the_cached_aggregate_as_stored(
    apps: tuple[OkrLedger, OkrLedger],
) -> None:
    app, other = apps
    cycle_id, objective_id, kr_id = tracking(app)
    app.check_in(objective_id, kr_id, 110, 7, ctx(ALICE))
    before = app.get_objective(objective_id)

    with pytest.raises(InvalidValue):
        app.check_in(objective_id, kr_id, 120, 11, ctx(ALICE))  # confidence out of range
    # A copy decided on a version that another instance has since moved past is refused...
    stale = app.repository.get(objective_id)
    other.check_in(objective_id, kr_id, 130, 7, ctx(BOB))
    stale.check_in(app.get_cycle(cycle_id), kr_id, 999, 7, ctx(ALICE))
    with pytest.raises(IntegrityError):
        app.save(stale)
    # ...and neither failure reached the cache: the next load is the stored aggregate.
    after = app.get_objective(objective_id)
    assert after.version == before.version + 1
    assert check_in_values(app, objective_id, kr_id) == [110.0, 130.0]


def test_concurrent_commands_through_two_instances_lose_no_update(
    apps: tuple[OkrLedger, OkrLedger],
) -> None:
    """Threads of two instances check in on one key result: every accepted check-in is stored,
    every other one was refused with a conflict (409 at the HTTP edge), none vanished."""
    app, _ = apps
    _, objective_id, kr_id = tracking(app)
    values = itertools.count(1)

    def attempt(ledger: OkrLedger) -> float | None:
        value = float(next(values))
        try:
            ledger.check_in(objective_id, kr_id, value, 7, ctx(ALICE))
        except IntegrityError:
            return None
        return value

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(attempt, [apps[i % 2] for i in range(120)]))

    accepted = sorted(v for v in outcomes if v is not None)
    assert accepted, "no check-in landed"
    for ledger in apps:
        assert sorted(check_in_values(ledger, objective_id, kr_id)) == accepted
        assert ledger.get_objective(objective_id).version == app.get_objective(objective_id).version
