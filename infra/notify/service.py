"""`okr notifier`: the notifier as a process of its own (several may run, see the engine)."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from infra.bootstrap import build_ledger
from infra.notify.engine import Notifier
from infra.notify.reminders import ReminderScheduler
from infra.settings import Settings, get_settings

log = logging.getLogger("okrledger.notifier")


def run_notifier(settings: Settings | None = None, *, follow: bool = True) -> None:
    """Run the notifier's follower (active or standby) and a sender until SIGINT/SIGTERM."""
    settings = settings or get_settings()
    ledger = build_ledger(settings)
    stop = threading.Event()

    def handler(signum: int, _frame: Any) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)
    notifier = Notifier(ledger, settings, follow=follow)
    notifier.start()
    reminders = ReminderScheduler(ledger, settings) if follow and settings.reminders else None
    if reminders is not None:
        reminders.start()
    log.info(
        "notifier running: channels in_app%s",
        "".join(f", {name}" for name in notifier.channels),
    )
    try:
        stop.wait()
    finally:
        if reminders is not None:
            reminders.stop()
        notifier.stop()
        ledger.close()
