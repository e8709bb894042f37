"""An app served by a real uvicorn server in a background thread, for the tests that speak HTTP.

`served(app)` yields the base URL and, on the way out, stops the server and waits for its
thread to end: the caller closes the read models and pools only after the server has stopped
answering, and no server outlives the fixture that started it (a test never depends on
another test's server shutting down in time).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

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
