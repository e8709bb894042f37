"""`okr notifier`: the notifier as a process of its own (several may run, see the engine)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from domain.application import OkrLedger
from infra.notify.engine import Notifier
from infra.notify.reminders import ReminderScheduler
from infra.settings import Settings
from infra.signals import run_until_signalled

log = logging.getLogger("okrledger.notifier")


def run_notifier(settings: Settings | None = None, *, follow: bool = True) -> None:
    """Run the notifier's follower (active or standby) and a sender until SIGINT/SIGTERM."""

    def start(settings: Settings, ledger: OkrLedger) -> Callable[[], None]:
        notifier = Notifier(ledger, settings, follow=follow)
        notifier.start()
        reminders = ReminderScheduler(ledger, settings) if follow and settings.reminders else None
        if reminders is not None:
            reminders.start()
        log.info(
            "notifier running: channels in_app%s",
            "".join(f", {name}" for name in notifier.channels),
        )

        def stop() -> None:
            if reminders is not None:
                reminders.stop()
            notifier.stop()

        return stop

    run_until_signalled(settings, log, start)
