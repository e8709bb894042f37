"""`okr webhooks` as real processes: two of them deliver every event once, then stop on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from domain.application import OkrLedger
from domain.base import CommandContext
from infra.secretbox import SecretBox
from infra.settings import Settings
from infra.webhooks.endpoints import register_endpoint
from infra.webhooks.store import WebhookStore

pytestmark = pytest.mark.postgres

OKR = str(Path(sys.executable).with_name("okr"))


def _wait_for_line(process: subprocess.Popen[str], text: str, timeout: float = 60) -> None:
    """Read `process`'s stderr until a line holds `text` (the lines read are kept aside)."""
    found = threading.Event()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            if text in line:
                found.set()
                return

    threading.Thread(target=read, daemon=True).start()
    assert found.wait(timeout), f"no {text!r} from the process within {timeout} s"


def test_two_processes_deliver_every_event_once_and_stop_cleanly(
    ledger: OkrLedger, database_url: str, httpserver: HTTPServer, tmp_path: Path
) -> None:
    ids: list[str] = []
    lock = threading.Lock()

    def handle(request: Request) -> Response:
        with lock:
            ids.append(request.headers["webhook-id"])
        return Response("ok")

    httpserver.expect_request("/hook").respond_with_handler(handle)
    store = WebhookStore(ledger.recorder.datastore, SecretBox.from_settings(Settings()))  # type: ignore[attr-defined]
    ctx = CommandContext.system()
    register_endpoint(
        ledger, store, httpserver.url_for("/hook"), ["*"], False, ctx, allow_private=True
    )
    env = {
        **os.environ,
        "OKR_DATABASE_URL": database_url,
        "OKR_DATA_DIR": str(tmp_path),
        "OKR_WEBHOOK_ALLOW_PRIVATE": "on",
        "OKR_WEBHOOK_POLL_SECONDS": "0.1",
        "OKR_LOCK_TIMEOUT_SECONDS": "5",
    }
    processes = [
        subprocess.Popen([OKR, "webhooks"], env=env, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    try:
        # Both deliver before the events exist (a process still starting when the test ends
        # would die of the SIGTERM before its handler is installed, and prove nothing).
        for p in processes:
            _wait_for_line(p, "delivering webhooks")
        for i in range(20):
            ledger.plan_cycle(f"C{i}", date(2026, 1, 1), date(2026, 3, 31), ctx)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(ids) < 20:
            time.sleep(0.1)
        time.sleep(1)  # a duplicate would arrive now
    finally:
        for p in processes:
            p.send_signal(signal.SIGTERM)
        codes = [p.wait(timeout=30) for p in processes]
    assert codes == [0, 0], [p.stderr.read() if p.stderr else "" for p in processes]
    assert len(ids) == 20 and set(Counter(ids).values()) == {1}
