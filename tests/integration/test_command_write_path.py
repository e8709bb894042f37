"""A command's write path: the cache moved on by the command's own saved events, one connection
from the load to the save, and neither changing what a command decides on.

- After a save, the cached aggregates are at the saved version (`LedgerBase._advance_cache`):
  the next command's load reads and decodes nothing of its own last write, but still every
  event another instance wrote, and a stale version is still refused.
- A command checks out one pool connection for its load and its save
  (`infra.connection_hold`); a command queued behind another's commit holds none.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.application import OkrLedger
from domain.errors import OkrError, RuleViolated
from infra.chain import ChainedApplicationRecorder
from tests.integration.conftest import PUBLIC_PERSON_IDS
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


def _pool_stats(app: OkrLedger) -> dict[str, int]:
    recorder = app.recorder
    assert isinstance(recorder, ChainedApplicationRecorder)
    return recorder.datastore.pool.get_stats()


def test_a_command_checks_out_one_connection_for_its_load_and_its_save(app: OkrLedger) -> None:
    _, objective_id, kr_id = tracking(app)
    app.check_in(objective_id, kr_id, 110, 7, ctx(ALICE))
    before = _pool_stats(app).get("requests_num", 0)

    for value in (120, 130, 140):
        app.check_in(objective_id, kr_id, value, 7, ctx(ALICE))

    assert _pool_stats(app)["requests_num"] - before == 3
    assert check_in_values(app, objective_id, kr_id) == [110.0, 120.0, 130.0, 140.0]


def test_a_command_queued_behind_a_commit_holds_no_connection(
    es_env: dict[str, str], database_url: str
) -> None:
    """The saves that wait for the commit in flight give their connection back first: while a
    leader's commit waits on the table lock, only the leader's connection is out."""
    app = OkrLedger(env={**es_env, **PUBLIC_PERSON_IDS, "POSTGRES_POOL_SIZE": "10"})
    try:
        org = an_org(app)
        objectives = [org.approved_objective() for _ in range(4)]
        app.start_cycle(org.q2_id, ctx(ADMIN))
        for objective_id, kr_id in objectives:
            app.check_in(objective_id, kr_id, 110, 7, ctx(ALICE))  # all cached
        recorder = app.recorder
        assert isinstance(recorder, ChainedApplicationRecorder)
        group = recorder.group_commit
        lock = psycopg.connect(database_url)
        lock.execute(f"LOCK TABLE {recorder.events_table_name} IN EXCLUSIVE MODE")
        pool = ThreadPoolExecutor(len(objectives))
        try:
            futures = []
            for number, (objective_id, kr_id) in enumerate(objectives):
                futures.append(pool.submit(app.check_in, objective_id, kr_id, 120, 7, ctx(ALICE)))
                _wait_for(lambda n=number: len(group._queue) == max(n, 0) and group._leading)
            time.sleep(0.1)  # the leader waits on the lock; three saves queue behind it
            stats = _pool_stats(app)
            in_use = stats["pool_size"] - stats["pool_available"]
            lock.rollback()
            for future in futures:
                future.result(timeout=30)
        finally:
            lock.close()
            pool.shutdown(wait=True)
        assert in_use == 1
        for objective_id, kr_id in objectives:
            assert check_in_values(app, objective_id, kr_id) == [110.0, 120.0]
    finally:
        app.close()


def _wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "the saves did not queue"
        time.sleep(0.005)


def test_a_held_connection_that_breaks_is_replaced_for_the_retry(
    app: OkrLedger, database_url: str
) -> None:
    """The connection a command holds dies between its load and its save: the save's retry
    takes another from the pool and the command lands once."""
    _, objective_id, kr_id = tracking(app)
    app.check_in(objective_id, kr_id, 110, 7, ctx(ALICE))
    recorder = app.recorder
    assert isinstance(recorder, ChainedApplicationRecorder)
    killed = threading.Event()
    load = recorder.select_events_after

    def load_then_kill(after: Any) -> Any:
        found = load(after)
        if not killed.is_set():
            killed.set()
            with recorder.datastore.get_connection() as conn:  # the held one
                pid = conn.info.backend_pid
            with psycopg.connect(database_url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        return found

    recorder.select_events_after = load_then_kill  # type: ignore[method-assign]
    try:
        result = app.check_in(objective_id, kr_id, 120, 7, ctx(ALICE))
    finally:
        del recorder.select_events_after
    assert killed.is_set()
    assert result.version == app.get_objective(objective_id).version
    assert check_in_values(app, objective_id, kr_id) == [110.0, 120.0]
