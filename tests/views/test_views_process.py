"""`okr worker --from-log`: the live views kept by a process of their own, beside an `okr serve`
that runs with `OKR_VIEWS_RUNNER=off` (no Kafka: the worker follows the log in PostgreSQL)."""

from __future__ import annotations

import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from infra.readmodels import ReadModels
from tests.servers import OKR, okr_env, run_okr, start_okr_serve
from tests.views.conftest import (
    Databases,
    assert_views_match,
    generate,
    head,
    ledger_on,
    settings,
    whole_log,
)
from tests.views.oracle import Oracle


def _ready(base: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{base}/api/v1/ready", timeout=5).json()
    return body


def _until(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def test_serve_answers_from_views_that_an_okr_worker_from_log_keeps(
    databases: Databases, tmp_path: Path
) -> None:
    with databases.fresh() as url:
        app = ledger_on(url)
        env = okr_env(url, tmp_path, OKR_VIEWS_RUNNER="off")
        server, base = start_okr_serve(env)
        log = tempfile.NamedTemporaryFile(prefix="okr-views-", suffix=".log")  # noqa: SIM115
        worker = None
        try:
            generate(app, 60, batch=5, seed=4)
            idle = _ready(base)
            assert (idle["log_position"], idle["projections_position"]) == (head(app), 0)

            worker = subprocess.Popen(
                [str(OKR), "worker", "--from-log"], env=env, stdout=log, stderr=subprocess.STDOUT
            )
            _until(lambda: _ready(base)["lag"] == 0)  # its first build: a rebuild of the log
            generate(app, 40, batch=3, seed=5, prefix="later")
            _until(lambda: _ready(base)["projections_position"] == head(app))  # then it follows
            assert _ready(base)["status"] == "ready"
        finally:
            if worker is not None:
                _stop(worker)
            _stop(server)  # type: ignore[arg-type]
            output = Path(log.name).read_text(errors="replace")
            log.close()
        assert worker.returncode == 0, output
        assert server.returncode == 0
        assert "views runner process started" in output and "stopping" in output, output
        readmodels = ReadModels(app, settings())
        try:
            assert readmodels.caught_up_position() == head(app)
            assert_views_match(readmodels, Oracle(whole_log(readmodels)))
        finally:
            app.close()


def test_okr_worker_needs_exactly_one_source(tmp_path: Path) -> None:
    env = okr_env("postgresql://nobody@127.0.0.1:1/none", tmp_path)
    for args in ((), ("--from-log", "--from-kafka")):
        done = run_okr("worker", *args, env=env)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "--from-kafka or --from-log" in done.stdout + done.stderr
