"""Helpers for the views' tests: fresh databases inside one test, a PostgreSQL-backed random
history, and reading the whole log the way the views do."""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from domain.application import OkrLedger
from infra.eventstore import eventsourcing_env
from infra.readmodels import ReadModels
from infra.settings import Settings
from infra.views.log import LogReader
from projections.base import Logged
from tests.stopping import stop_views
from tests.unit.projections import test_properties as random_history
from tests.unit.projections.story import Ledger
from tests.unit.projections.test_properties import RandomHistory
from tests.views.oracle import Oracle

pytestmark = pytest.mark.postgres


class Databases:
    """Creates throwaway databases on the session's server (hypothesis needs several per test)."""

    def __init__(self, server: Any, url: str) -> None:
        self.server = server
        self.url = url

    def fresh(self) -> contextlib.AbstractContextManager[str]:
        return self.server.fresh_database("okr_views")


@pytest.fixture(scope="session")
def databases(_postgres_server: Any, postgres_server_url: str) -> Databases:
    return Databases(_postgres_server, postgres_server_url)


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"lock_timeout_seconds": 5, "pool_size": 6, "checkpoint_every": 7}
    values.update(overrides)
    return Settings(**values)


def ledger_on(url: str, **overrides: Any) -> OkrLedger:
    return OkrLedger(env=eventsourcing_env(url, settings(**overrides)))


@contextlib.contextmanager
def fresh_views(
    databases: Databases, **overrides: Any
) -> Iterator[tuple[str, OkrLedger, ReadModels]]:
    """A fresh database (its URL), its application and the views' runner (not started; its
    settings with `overrides`), both stopped afterwards."""
    with databases.fresh() as url:
        app = ledger_on(url)
        readmodels = ReadModels(app, settings(**overrides))
        try:
            yield url, app, readmodels
        finally:
            stop_views(readmodels)
            app.close()


class PgLedger(Ledger):
    """The story's ledger (controlled clock) on PostgreSQL."""

    def __init__(self, app: OkrLedger, start: datetime) -> None:
        self.app = app
        self.clock = start


class PgHistory(RandomHistory):
    """`RandomHistory` (random valid commands) writing to PostgreSQL."""

    def __init__(self, app: OkrLedger) -> None:
        original = random_history.Ledger
        random_history.Ledger = lambda start: PgLedger(app, start)  # type: ignore[assignment,misc]
        try:
            super().__init__()
        finally:
            random_history.Ledger = original  # type: ignore[misc]


def _generator_module() -> Any:
    path = Path(__file__).resolve().parents[2] / "bench" / "generate.py"
    spec = importlib.util.spec_from_file_location("okr_bench_generate", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def generate(
    app: OkrLedger, events: int, *, batch: int = 4, seed: int = 1, prefix: str = ""
) -> int:
    """A rich valid history (bench/generate.py: negotiation, weekly check-ins, corrections,
    amendments, grades, carry-overs) of about `events` events, in transactions of ~`batch`."""
    generator = _generator_module().Generator(
        app, events, seed, 2, batch, quiet=True, prefix=prefix
    )
    generator.run()
    return int(generator.written)


def whole_log(readmodels: ReadModels) -> list[Logged]:
    reader: LogReader = readmodels.log
    return [logged for page in reader.pages(0) for logged in page]


def head(app: OkrLedger) -> int:
    return app.recorder.max_notification_id() or 0


def running(readmodels: ReadModels, app: OkrLedger, timeout: float = 20) -> None:
    """Start the live runner and wait until it follows the log at its head.

    The runner's first build is a rebuild, and the views' stored position reaches the head
    before that rebuild lets go of the rebuild lock (it still saves its model); the runner
    states its own position only once the build returned. Waiting on the runner, not on the
    stored position, is what lets a test's own `Rebuild` start at once without `RebuildBusy`.
    """
    readmodels.start()
    deadline = time.monotonic() + timeout
    while not readmodels.runner.active.is_set():
        assert time.monotonic() < deadline, "the views runner did not start leading"
        time.sleep(0.01)
    remaining = max(0.0, deadline - time.monotonic())
    assert readmodels.runner.wait(head(app), remaining), "the views runner did not reach the head"


def without_strategy(answer: dict[str, Any]) -> dict[str, Any]:
    """Comparison answers carry the strategy layer, which is not these views' business."""
    return {k: v for k, v in answer.items() if k != "strategy"}


def assert_views_match(readmodels: ReadModels, oracle: Oracle) -> None:
    """Every live answer of the facade equals the oracle's."""
    cycles = oracle.cycles()
    for cycle_id in cycles:
        assert readmodels.tree(cycle_id) == oracle.tree(cycle_id), "tree"
        assert readmodels.stale(cycle_id) == oracle.stale(cycle_id), "stale"
        for team_id in oracle.teams():
            assert readmodels.tree(cycle_id, team_id=team_id) == oracle.tree(
                cycle_id, team_id=team_id
            ), "tree by team"
    assert readmodels.stale() == oracle.stale(), "stale"
    assert without_strategy(readmodels.compare(cycles)) == oracle.compare(cycles), "compare"
    for objective_id in oracle.objectives():
        assert readmodels.objective(objective_id) == oracle.objective(objective_id), "objective"
        assert readmodels.history(objective_id) == oracle.history(objective_id), "history"
    for person_id in oracle.people():
        assert readmodels.inbox(person_id) == oracle.inbox(person_id), "inbox"
    assert readmodels.audit(limit=1_000_000) == oracle.audit(), "audit"
    assert [c["id"] for c in readmodels.cycles()] == [str(c) for c in cycles]
    assert readmodels.people() == [
        {"id": str(p), "name": e.name, "email": e.email, "active": e.active}
        for p, e in oracle.directory.people.items()
    ]
