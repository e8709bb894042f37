"""A save conditioned on another aggregate being unchanged (``save(...,
unchanged=(id, version))``, `infra.chain.ChainedApplicationRecorder.insert_events`): committed
when that aggregate has no event after the version, refused unwritten as a stale version is
(`IntegrityError`) when it has, on every path that commits a command: the direct one-statement
commit, the cursor call (more events than scalar parameters) and a savepoint of a group-commit
batch. A path that cannot check the condition refuses the save rather than ignore it.

And the objective commands built on it (`ObjectiveLedger._on_objective`): with the objective
and its cycle cached, a command reads nothing from the store, and what another instance wrote
to either still decides it (see also `test_fast_forward_pair.py`, `test_aggregate_cache.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest
from eventsourcing.persistence import IntegrityError

from domain.application import OkrLedger
from domain.cycle import Cycle
from domain.errors import RuleViolated
from domain.objective import Objective
from infra.chain import SCALAR_PARAMETERS, ChainReader, verify_chain
from infra.idempotency import Claim, claiming
from tests.integration.test_aggregate_cache import check_in_values, tracking
from tests.integration.test_chain import Counter
from tests.integration.test_fast_forward_pair import Queries
from tests.integration.test_group_commit import Ledger as CounterLedger
from tests.integration.test_group_commit import _batched, _log, _recorder
from tests.unit.builders import ADMIN, ALICE, BOB, ctx

pytestmark = pytest.mark.postgres


@pytest.fixture
def counters(es_env: dict[str, str]) -> Iterator[CounterLedger]:
    """A small application of counters (the product's domain is not needed here)."""
    ledger = CounterLedger(env={**es_env, "POSTGRES_POOL_SIZE": "10"})
    yield ledger
    ledger.close()


def _counter(name: str, events: int) -> Counter:
    counter = Counter(name)
    for _ in range(events - 1):
        counter.increment()
    return counter


@pytest.mark.parametrize("events", [1, SCALAR_PARAMETERS + 1])
def test_a_conditioned_save_commits_only_while_the_aggregate_is_unchanged(
    counters: CounterLedger,
    database_url: str,
    events: int,
) -> None:
    watched = _counter("watched", 1)
    counters.save(watched)
    seen = watched.version

    kept = _counter("kept", events)
    counters.save(kept, unchanged=(watched.id, seen))
    assert counters.repository.get(kept.id).version == events

    watched.increment()
    counters.save(watched)  # moved on past `seen`
    before = _log(database_url)
    refused = _counter("refused", events)
    with pytest.raises(IntegrityError, match="moved on"):
        counters.save(refused, unchanged=(watched.id, seen))
    assert _log(database_url) == before, "a refused save writes nothing"

    counters.save(_counter("after", events), unchanged=(watched.id, watched.version))
    report = verify_chain(ChainReader.for_recorder(counters.recorder))
    assert report.ok and report.count == len(_log(database_url)), report


def test_a_conditioned_save_in_a_batch_is_refused_alone(
    counters: CounterLedger,
    database_url: str,
) -> None:
    watched = Counter("watched")
    counters.save(watched)
    seen = watched.version
    watched.increment()
    counters.save(watched)
    refused, kept, after = Counter("refused"), Counter("kept"), Counter("after")
    group = _recorder(counters).group_commit
    batches = group.batches

    _, futures = _batched(
        counters,
        database_url,
        lambda: counters.save(Counter("leader")),
        [
            lambda: counters.save(refused, unchanged=(watched.id, seen)),
            lambda: counters.save(kept, unchanged=(watched.id, watched.version)),
            lambda: counters.save(after),
        ],
    )

    assert group.batches - batches == 2, "the three queued saves shared one transaction"
    assert isinstance(futures[0].exception(), IntegrityError), futures[0].exception()
    assert futures[1].exception() is None and futures[2].exception() is None
    written = {o for _, o, _ in _log(database_url)}
    assert refused.id not in written
    assert {kept.id, after.id} <= written
    assert verify_chain(ChainReader.for_recorder(counters.recorder)).ok


def test_a_path_that_cannot_check_the_condition_refuses_the_save(
    counters: CounterLedger,
    database_url: str,
) -> None:
    watched = Counter("watched")
    counters.save(watched)
    recorder = _recorder(counters)
    assert recorder.commits_unchanged()
    before = _log(database_url)
    keyed = Claim(store=cast("Any", None), principal="someone", key="a key")
    with claiming(keyed):  # a keyed save commits with the client's statements
        assert not recorder.commits_unchanged()
    recorder._insert_function_ready = False  # a process that did not create the tables
    assert not recorder.commits_unchanged()
    with pytest.raises(IntegrityError, match="cannot be checked"):
        counters.save(Counter("unchecked"), unchanged=(watched.id, watched.version))
    assert _log(database_url) == before


@pytest.fixture
def apps(open_ledger: Callable[[], OkrLedger]) -> tuple[OkrLedger, OkrLedger]:
    return open_ledger(), open_ledger()


def test_a_command_on_a_cached_objective_and_cycle_reads_nothing(
    apps: tuple[OkrLedger, OkrLedger], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, other = apps
    cycle_id, objective_id, kr_id = tracking(app)
    app.check_in(objective_id, kr_id, 110, 7, ctx(ALICE))  # both cached in `app`
    queries = Queries(monkeypatch, app)

    for value in (120, 130):
        app.check_in(objective_id, kr_id, value, 7, ctx(ALICE))
    assert (queries.one, queries.many) == (0, 0)

    # Another instance's write to the objective: the save decided on the cache is refused,
    # the command decided again on the store (one query), nothing lost or doubled.
    other.check_in(objective_id, kr_id, 140, 7, ctx(BOB))
    result = app.check_in(objective_id, kr_id, 150, 7, ctx(ALICE))
    assert (queries.one, queries.many) == (0, 1)
    assert result.version == other.get_objective(objective_id).version
    assert check_in_values(other, objective_id, kr_id) == [110.0, 120.0, 130.0, 140.0, 150.0]

    # Another instance's change to the cycle alone binds too.
    other.open_grading(cycle_id, ctx(ADMIN))
    other.close_cycle(cycle_id, ctx(ADMIN))
    with pytest.raises(RuleViolated, match="is closed"):
        app.check_in(objective_id, kr_id, 160, 7, ctx(ALICE))
    assert (queries.one, queries.many) == (0, 2)
    assert check_in_values(app, objective_id, kr_id) == [110.0, 120.0, 130.0, 140.0, 150.0]


def test_a_refusal_decided_on_a_stale_cache_is_decided_again_on_the_store(
    apps: tuple[OkrLedger, OkrLedger],
) -> None:
    """The cache says the cycle is closed; another instance has reopened it since: the
    check-in is accepted, not refused on what the cache says."""
    app, other = apps
    cycle_id, objective_id, kr_id = tracking(app)
    app.check_in(objective_id, kr_id, 110, 7, ctx(ALICE))
    app.open_grading(cycle_id, ctx(ADMIN))
    app.close_cycle(cycle_id, ctx(ADMIN))
    with pytest.raises(RuleViolated):
        app.check_in(objective_id, kr_id, 120, 7, ctx(ALICE))  # the closed cycle cached
    other.reopen_cycle(cycle_id, "late numbers", ctx(ADMIN))

    app.check_in(objective_id, kr_id, 130, 7, ctx(ALICE))
    assert check_in_values(other, objective_id, kr_id) == [110.0, 130.0]


def test_a_stale_if_match_is_refused_after_another_instances_write(
    apps: tuple[OkrLedger, OkrLedger],
) -> None:
    app, other = apps
    _, objective_id, kr_id = tracking(app)
    seen = app.check_in(objective_id, kr_id, 110, 7, ctx(ALICE)).version
    other.check_in(objective_id, kr_id, 120, 7, ctx(BOB))

    # The cache still says `seen`, so the command passes on the cache; the store refuses it.
    with pytest.raises(RuleViolated) as refused:
        app.check_in.expecting(seen)(objective_id, kr_id, 130, 7, ctx(ALICE))
    assert refused.value.rule == "version_mismatch"
    assert check_in_values(app, objective_id, kr_id) == [110.0, 120.0]


def test_a_command_that_changes_nothing_answers_the_stored_version(
    apps: tuple[OkrLedger, OkrLedger],
) -> None:
    """A command that records nothing on the cached copies is decided again on the store,
    so its answer never names a version the store has passed."""
    app, other = apps
    _, objective_id, kr_id = tracking(app)
    app.check_in(objective_id, kr_id, 110, 7, ctx(ALICE))
    other.check_in(objective_id, kr_id, 120, 7, ctx(BOB))
    decided_on: list[int] = []

    def nothing(objective: Objective, cycle: Cycle) -> None:
        decided_on.append(objective.version)

    result = app._on_objective(objective_id, None, nothing)

    stored = other.get_objective(objective_id).version
    assert decided_on == [stored - 1, stored]  # on the cache, then on the store
    assert result.version == stored
