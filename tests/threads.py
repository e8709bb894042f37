"""Threads that tests start together, to make things happen at the same time."""

from __future__ import annotations

import threading
from collections.abc import Sequence


def run_together(threads: Sequence[threading.Thread], timeout: float | None = None) -> None:
    """Start every thread, then wait for each (up to `timeout` seconds each)."""
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
