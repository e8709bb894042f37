"""The aggregate cache under random commands: whatever a command does to the copy it was handed
(accepted, refused half-way through, or decided and never saved), the cached objective and KPI
stay equal to a fresh reload from the store.

Objectives and KPIs share their check-ins and measurements between the cache and each copy
(`domain.base.Immutable`), so this guards that nothing shared is ever changed in place.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.application import OkrLedger
from domain.errors import OkrError
from domain.ledger.objectives import CheckInEntry
from domain.objective import Objective
from tests.steps import kpi
from tests.unit.builders import ADMIN, ALICE, BOB, an_org, ctx

pytestmark = pytest.mark.postgres


@dataclass
class Tracked:
    app: OkrLedger
    objective_id: UUID
    kr_id: UUID
    kpi_id: UUID


@pytest.fixture
def tracked(app: OkrLedger) -> Tracked:
    """An approved objective in an active cycle and a KPI, in one cached application."""
    org = an_org(app)
    objective_id, kr_id = org.approved_objective()
    app.start_cycle(org.q2_id, ctx(ADMIN))
    kpi_id = kpi(app, ctx(ADMIN), "Weekly active teams", "teams", "increase", ALICE, (50, 30))
    return Tracked(app, objective_id, kr_id, kpi_id)


def state(aggregate: Any) -> dict[str, Any]:
    """Everything an aggregate holds but its not yet saved events."""
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}


def stored(app: OkrLedger, aggregate_id: UUID, version: int | None = None) -> dict[str, Any]:
    """The aggregate replayed from the store (up to `version`), bypassing the cache."""
    events = app.repository.event_store.get(aggregate_id, lte=version)
    aggregate = None
    for event in events:
        aggregate = event.mutate(aggregate)
    return state(aggregate)


def cached(app: OkrLedger, aggregate_id: UUID) -> dict[str, Any]:
    assert app.repository.cache is not None
    return state(app.repository.cache.get(aggregate_id))


def run(t: Tracked, command: tuple[Any, ...]) -> None:
    """One command; a refusal is expected and leaves no trace."""
    app, oid, kr = t.app, t.objective_id, t.kr_id
    kind, number, pick = command
    check_ins = app.get_objective(oid).key_results[kr].check_ins
    target = check_ins[pick % len(check_ins)].id if check_ins and pick >= 0 else uuid4()
    measurements = list(app.get_kpi(t.kpi_id).measurements)
    measured = measurements[pick % len(measurements)] if measurements and pick >= 0 else uuid4()
    confidence = pick  # outside 0..10: refused
    if kind == "check_in":
        app.check_in(oid, kr, number, confidence, ctx(ALICE))
    elif kind == "correct":
        app.correct_check_in(oid, kr, target, number, "typo" if pick % 3 else "", ctx(ALICE))
    elif kind == "many":  # the last entry refused after the first was decided: nothing lands
        entry = CheckInEntry(oid, kr, number, 7)
        app.check_in_many([entry, CheckInEntry(oid, kr, number, confidence)], ctx(ALICE))
    elif kind == "unsaved":  # decided on a copy, never saved
        objective, cycle = app._objective_and_cycle(oid)
        objective.check_in(cycle, kr, number, 7, ctx(ALICE))
        if check_ins:
            objective.correct_check_in(cycle, kr, check_ins[-1].id, number, "typo", ctx(ALICE))
    elif kind == "amend":  # an approved amendment replaces the key result's definition
        changes = {"key_results": {str(kr): {"weight": abs(number) % 5, "title": f"KR {pick}"}}}
        amendment = app.propose_amendment(oid, changes, "rebalanced", ctx(ALICE)).extra_id
        assert amendment is not None
        app.approve_amendment(oid, amendment, ctx(BOB) if pick % 2 else ctx(ALICE))
    elif kind == "link":
        app.link_key_result_to_kpi(oid, kr, t.kpi_id if pick % 2 else None, ctx(ALICE))
    elif kind == "measure":
        app.record_measurement(t.kpi_id, f"2025-W{1 + pick % 60:02d}", number, ctx(ALICE))
    elif kind == "correct_measure":
        app.correct_measurement(
            t.kpi_id, measured, number, "recount" if pick % 3 else "", ctx(ALICE)
        )


commands = st.tuples(
    st.sampled_from(
        ["check_in", "correct", "many", "unsaved", "amend", "link", "measure", "correct_measure"]
    ),
    st.floats(min_value=-1000, max_value=1000, allow_nan=False),
    st.integers(min_value=-2, max_value=12),
)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(commands, min_size=1, max_size=10))
def test_the_cache_equals_the_store_after_any_command(
    tracked: Tracked, sequence: list[tuple[Any, ...]]
) -> None:
    t = tracked
    for command in sequence:
        with contextlib.suppress(OkrError):  # refused: 422, 409 or 404 at the HTTP edge
            run(t, command)
        for aggregate_id in (t.objective_id, t.kpi_id):
            # The cache is fast-forwarded on load: until then it is the store at its version...
            before = cached(t.app, aggregate_id)
            assert before == stored(t.app, aggregate_id, before["_version"]), command
            # ...and after a load, the store as it is now.
            t.app.repository.get(aggregate_id)
            assert cached(t.app, aggregate_id) == stored(t.app, aggregate_id), command


def test_a_correction_replaces_the_check_in_it_supersedes(tracked: Tracked) -> None:
    """The copy a command gets shares the cached check-ins; a correction replaces the record it
    supersedes in the copy and leaves the cached one as it was until the save."""
    t = tracked
    t.app.check_in(t.objective_id, t.kr_id, 110, 7, ctx(ALICE))
    first = t.app.get_objective(t.objective_id).key_results[t.kr_id].check_ins[0]
    objective, cycle = t.app._objective_and_cycle(t.objective_id)
    assert objective.key_results[t.kr_id].check_ins[0] is first  # shared, not copied

    correction = objective.correct_check_in(cycle, t.kr_id, first.id, 120, "typo", ctx(ALICE))

    assert first.superseded_by is None
    assert objective.key_results[t.kr_id].check_ins[0].superseded_by == correction
    t.app.save(objective)
    reloaded: Objective = t.app.get_objective(t.objective_id)
    assert [c.superseded_by for c in reloaded.key_results[t.kr_id].check_ins] == [correction, None]
