"""Exactly once, whatever happens: runners killed mid-batch, rebuilds killed or stopped mid-scan,
rebuilds racing live writes, batches rolled back.

Each test ends by comparing every answer of the views with the oracle (the folds over the log),
and the audit trail's row count with the number of events: a lost batch or a doubled one shows.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import OperationalError

from domain.application import OkrLedger
from infra.eventstore import eventsourcing_env
from infra.readmodels import ReadModels
from infra.views.model import Shard
from infra.views.rebuild import Rebuild
from infra.views.schema import SHADOW, Table
from tests.unit.projections.test_properties import OPERATIONS
from tests.views.conftest import (
    Databases,
    PgHistory,
    assert_views_match,
    fresh_views,
    generate,
    head,
    ledger_on,
    running,
    settings,
    whole_log,
)
from tests.views.oracle import Oracle

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]


def write(history: PgHistory, steps: int, seed: int = 0) -> None:
    """Deterministic, varied commands (every operation in turn, numbers from the seed)."""
    for n in range(steps):
        operation = OPERATIONS[(n * 5 + seed) % len(OPERATIONS)]
        history.run((operation, (n + seed) % 17, (n * 3) % 13, (n * 7 + seed) % 19))
        if n == steps // 3:
            history.advance_q1("planning")
        if n == 2 * steps // 3:
            history.advance_q1("active")


def check(readmodels: ReadModels, app: OkrLedger) -> None:
    assert readmodels.wait_for(head(app), 20)
    log = whole_log(readmodels)
    assert_views_match(readmodels, Oracle(log))
    with readmodels.store.datastore.get_connection() as conn:
        row = conn.execute("SELECT count(*) AS n FROM view_audit").fetchone()
    assert row is not None and row["n"] == len(log)


def child(kind: str, url: str, folder: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.views.crashing", kind, url, str(folder)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def wait_ready(process: subprocess.Popen[bytes], folder: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not (folder / "ready").exists():
        assert process.poll() is None, f"the child exited with {process.returncode}"
        assert time.monotonic() < deadline, "the child never reached its crash point"
        time.sleep(0.05)


def kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(10)


def built_and_stopped(app: OkrLedger, readmodels: ReadModels) -> PgHistory:
    """40 commands and 300 generated events, the views built from them by the runner, which
    is stopped again; the history the commands came from."""
    history = PgHistory(app)
    write(history, 40)
    generate(app, 300)
    running(readmodels, app)  # builds the views
    readmodels.stop()
    return history


def test_a_runner_killed_between_writing_rows_and_committing_loses_and_doubles_nothing(
    databases: Databases, tmp_path: Path
) -> None:
    with fresh_views(databases) as (url, app, readmodels):
        history = built_and_stopped(app, readmodels)
        built = readmodels.caught_up_position()
        generate(app, 200, prefix="b", batch=50)  # a backlog: the child's first batch
        process = child("runner", url, tmp_path)
        try:
            wait_ready(process, tmp_path)
            # Its rows and tracking position are written, not committed: nobody sees them.
            assert readmodels.caught_up_position() == built
        finally:
            kill(process)
        assert readmodels.caught_up_position() == built
        readmodels.start()
        write(history, 10, seed=5)
        generate(app, 100, prefix="c")
        check(readmodels, app)


def test_a_batch_that_fails_before_commit_is_applied_again_exactly_once(
    databases: Databases,
) -> None:
    with fresh_views(databases) as (_url, app, readmodels):
        failures = {"left": 3}
        original = readmodels.store.track

        def failing_track(curs: Any, position: int, shard: Shard | None = None) -> None:
            original(curs, position, shard)
            if failures["left"] > 0:
                failures["left"] -= 1
                raise RuntimeError("injected: the connection died before COMMIT")

        readmodels.store.track = failing_track  # type: ignore[method-assign]
        history = PgHistory(app)
        readmodels.start()
        write(history, 60)
        generate(app, 400, batch=3)
        check(readmodels, app)
        assert failures["left"] == 0


def test_a_rebuild_killed_mid_scan_resumes_where_it_saved(
    databases: Databases, tmp_path: Path
) -> None:
    with fresh_views(databases) as (url, app, readmodels):
        write(PgHistory(app), 60)
        generate(app, 500)
        process = child("rebuild", url, tmp_path)
        try:
            wait_ready(process, tmp_path)
        finally:
            kill(process)
        report = Rebuild(app, settings(), page_size=10).run(None)
        assert report.resumed_from is not None and report.resumed_from > 0
        check(readmodels, app)


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_a_stopped_rebuild_resumes_and_live_queries_answer_meanwhile(
    databases: Databases, workers: int
) -> None:
    with fresh_views(databases) as (_url, app, readmodels):
        built_and_stopped(app, readmodels)
        before = readmodels.audit(limit=10_000)
        stop = threading.Event()
        pages = {"n": 0}

        def progress(done: int, total: int, phase: str) -> None:
            pages["n"] += 1
            if pages["n"] == 2:
                stop.set()

        job = Rebuild(app, settings(), page_size=10, progress=progress, stop=stop, workers=workers)
        report = job.run(["audit", "history"])
        assert report.interrupted
        assert readmodels.audit(limit=10_000) == before  # the old tables still answer
        report = Rebuild(app, settings(), page_size=10, workers=workers).run(["audit", "history"])
        assert report.resumed_from is not None and not report.interrupted
        readmodels.start()
        check(readmodels, app)


@contextlib.contextmanager
def beside_a_writer(
    databases: Databases,
) -> Iterator[tuple[OkrLedger, OkrLedger, PgHistory, ReadModels]]:
    """A fresh database: the views' application and runner (not started), and a second
    application whose history writes beside them."""
    with databases.fresh() as url:
        app = ledger_on(url)
        writer_app = ledger_on(url)
        readmodels = ReadModels(app, settings())
        try:
            yield app, writer_app, PgHistory(writer_app), readmodels
        finally:
            readmodels.stop()
            app.close()
            writer_app.close()


def test_rebuilds_while_writes_continue_lose_and_double_nothing(databases: Databases) -> None:
    with beside_a_writer(databases) as (app, writer_app, history, readmodels):
        write(history, 30)
        generate(app, 200)
        running(readmodels, app)  # its first build is a rebuild too
        done = threading.Event()
        failed: list[BaseException] = []

        def keep_writing() -> None:
            try:
                write(history, 120, seed=7)
                generate(writer_app, 1500, batch=3, prefix="w")
            except BaseException as error:
                failed.append(error)
            finally:
                done.set()

        writer = threading.Thread(target=keep_writing)
        writer.start()
        rebuilds = 0
        while not done.is_set() or rebuilds < 3:
            views = None if rebuilds % 2 == 0 else ["audit", "history", "tree"]
            Rebuild(app, settings(), page_size=7, workers=1 + rebuilds % 3).run(views)
            rebuilds += 1
        writer.join()
        assert not failed, failed
        check(readmodels, app)


def test_a_history_rebuilt_alone_keeps_its_timeline_from_the_audit_rows(
    databases: Databases,
) -> None:
    """The history's timeline is the audit view's rows (`infra.views.schema.READS`): rebuilding
    either view alone, with the live runner writing before and after, changes no answer."""
    with fresh_views(databases) as (_url, app, readmodels):
        history = PgHistory(app)
        write(history, 30)
        running(readmodels, app)  # its first build is a rebuild: wait for it to end
        for n, views in enumerate((["history"], ["audit"], ["history", "tree"])):
            Rebuild(app, settings(), page_size=10).run(views)
            for step in range(8):
                operation = OPERATIONS[(step * 3 + n) % len(OPERATIONS)]
                history.run((operation, step + n, step % 5, step + 2 * n))
            check(readmodels, app)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_swap_that_fails_after_folding_the_tail_is_not_retried_and_the_next_rebuild_mends_it(
    databases: Databases, workers: int
) -> None:
    """The swap folds what the log gained while the rebuild read into the shadows. Should its
    transaction fail after that, the rollback takes the rows back but not the fold: retrying
    would write the tail's rows nowhere. It raises instead, and the next run resumes."""
    with beside_a_writer(databases) as (app, _writer_app, history, readmodels):
        write(history, 30)
        running(readmodels, app)

        def log_moves_on(done: int, total: int, phase: str) -> None:
            if phase == "swap":
                write(history, 12, seed=3)
                assert readmodels.wait_for(head(app), 20)

        rebuild = Rebuild(app, settings(), page_size=7, workers=workers, progress=log_moves_on)
        real_write = rebuild.store.write
        failures: list[int] = []

        def fails_once(*args: Any, **kwargs: Any) -> None:
            if not failures:
                failures.append(1)
                raise OperationalError("connection lost mid-swap")
            real_write(*args, **kwargs)

        rebuild.store.write = fails_once  # type: ignore[method-assign]
        with pytest.raises(OperationalError):
            rebuild.run(None)
        assert failures == [1]
        Rebuild(app, settings(), page_size=7, workers=workers).run(None)
        check(readmodels, app)


def test_a_rebuild_whose_index_thread_waits_between_statements_is_not_disconnected(
    databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index transaction's thread may wait seconds for the GIL between two statements
    (the final save encodes the model beside it): the pool's idle-in-transaction timeout
    (here 1 s) must not end its session, as it did at 1M events on a busy machine."""
    with databases.fresh() as url:
        env = eventsourcing_env(url, settings())
        env["POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT"] = "1"
        app = OkrLedger(env=env)
        try:
            write(PgHistory(app), 10)
            create_indexes = Table.create_indexes

            waited: list[str] = []

            def slow(table: Table, schema: str, suffix: str = "") -> list[Any]:
                # Once, in the index transaction (the shadow tables' indexes), after its first
                # statements: one wait past the timeout ends an unprotected session. (Every
                # view store also lists all tables' indexes when it is made, outside any
                # transaction: waiting there, some 40 times, tested nothing.)
                if suffix == SHADOW and not waited:
                    waited.append(table.name)
                    time.sleep(1.5)  # as a thread waiting for the GIL, inside the transaction
                return create_indexes(table, schema, suffix)

            monkeypatch.setattr(Table, "create_indexes", slow)
            report = Rebuild(app, settings()).run(["audit"])
            assert waited, "the index transaction never waited"
            assert report.position == head(app)
            readmodels = ReadModels(app, settings())
            try:
                assert readmodels.audit(limit=10_000) == Oracle(whole_log(readmodels)).audit()
            finally:
                readmodels.stop()
        finally:
            app.close()
