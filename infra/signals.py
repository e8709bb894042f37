"""The processes `okr notifier`, `okr webhooks`, `okr relay` and `okr worker`: run until
SIGINT/SIGTERM, then stop what they started and close the ledger."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

from domain.application import OkrLedger
from infra.bootstrap import build_ledger
from infra.settings import Settings, get_settings

Start = Callable[[Settings, OkrLedger], Callable[[], None]]
"""Starts a process's threads on the ledger; returns what stops them."""


def stop_on_signals(stop: threading.Event, log: logging.Logger) -> None:
    """Set `stop` on SIGINT or SIGTERM (saying so in `log`)."""

    def handler(signum: int, _frame: Any) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)


def run_until_signalled(settings: Settings | None, log: logging.Logger, start: Start) -> None:
    """Build the ledger, `start` the process's threads, wait for SIGINT/SIGTERM, then stop
    them and close the ledger."""
    settings = settings or get_settings()
    ledger = build_ledger(settings)
    try:
        stop = threading.Event()
        stop_on_signals(stop, log)
        stopper = start(settings, ledger)
        try:
            stop.wait()
        finally:
            stopper()
    finally:
        ledger.close()
