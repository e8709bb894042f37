"""An app served by a real uvicorn server in a background thread, for the tests that speak HTTP.

`served(app)` yields the base URL and, on the way out, stops the server and waits for its
thread to end: the caller closes the read models and pools only after the server has stopped
answering, and no server outlives the fixture that started it (a test never depends on
another test's server shutting down in time).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

OKR = Path(sys.executable).with_name("okr")
"""The `okr` command of this environment."""

STOP_SECONDS = 30.0
"""How long a graceful stop may take before the server's remaining tasks are cancelled."""


@contextmanager
def served(app: Any, *, start_seconds: float = 30.0, port: int = 0) -> Iterator[str]:
    """`port` 0: a free one (a test that must know it first, e.g. for a redirect URI, picks one)."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=int(STOP_SECONDS),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="okr-test-server", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + start_seconds
        while not server.started:  # uvicorn offers no event for this
            assert thread.is_alive(), "uvicorn failed to start"
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(STOP_SECONDS + 10)
        if thread.is_alive():  # pragma: no cover - a hung request: cancel it, then fail
            server.force_exit = True
            thread.join(10)
        assert not thread.is_alive(), "the test server did not stop"


def okr_env(database_url: str, data_dir: Path, **more: str) -> dict[str, str]:
    """The environment of an `okr` process on `database_url`, its output plain UTF-8 text."""
    return {
        **os.environ,
        "OKR_DATABASE_URL": database_url,
        "OKR_DATA_DIR": str(data_dir),
        "NO_COLOR": "1",
        "PYTHONIOENCODING": "utf-8",
        **more,
    }


def run_okr(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`okr ARGS` to its end: its exit code and output (the caller checks them)."""
    return subprocess.run(
        [str(OKR), *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def run_okr_here(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`okr ARGS` run by the test's own process with `env` (the same command-line code, its exit
    code and output as `run_okr` gives them), for a test whose subject is not the command: a
    new `okr` process spends ~1.4 s importing before it does anything."""
    from typer.testing import CliRunner

    from api.cli import app
    from infra.settings import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    finally:
        get_settings.cache_clear()
    return subprocess.CompletedProcess(
        ["okr", *args], result.exit_code, result.stdout, result.stderr
    )


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_okr_serve(
    env: dict[str, str], *, port: int = 0, capture: bool = False
) -> tuple[subprocess.Popen[str], str]:
    """`okr serve` on `port` (0: a free one), once its /api/v1/health answers 200: the process
    and its base URL. `capture` keeps its output (read when it exits early); the caller stops
    it."""
    port = port or free_port()
    process = subprocess.Popen(
        [str(OKR), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
        stderr=subprocess.STDOUT if capture else subprocess.DEVNULL,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            exited = process.poll() is not None
            assert not exited, process.stdout.read() if process.stdout else "okr serve exited"
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    return process, base
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "okr serve did not come up"
            time.sleep(0.1)
    except BaseException:
        process.kill()
        process.wait(10)
        raise
