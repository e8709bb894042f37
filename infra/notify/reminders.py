"""The reminder scheduler: the notices time alone causes (check-ins due, overdue, escalated).

It folds the log into `projections.reminders.RemindersState` (reading past its position every
tick), asks the pure `due_reminders` which reminders are due *now*, and writes them to the
notifier's outbox with `ON CONFLICT (id) DO NOTHING`. A reminder's id is a uuid5 of its kind,
recipient, key result and period, so a tick that runs twice, a restarted process, or two
processes that both tick write each reminder once; from the outbox on, dispatch, quiet hours,
preferences, the channels and the crash guarantees are the notifier's (infra/notify/engine.py).

One scheduler ticks at a time per database (a PostgreSQL advisory lock, like the follower);
the others stand by. It runs in `okr serve` beside the notifier and in `okr notifier`.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.application import OkrLedger
from infra.leadership import leadership
from infra.notify.digest import Digests
from infra.notify.engine import LedgerDirectory, base_url, configured_channels
from infra.notify.store import NoticeStore
from infra.repeating import Looping
from infra.settings import Settings
from infra.views.log import LogReader
from projections.notices import Notice
from projections.reminders import (
    PhaseNotice,
    Reminder,
    ReminderPolicy,
    RemindersState,
    due_reminders,
    phase_notices,
    remember,
)

log = logging.getLogger("okrledger.reminders")

LOCK_KEY = "okrledger:notifier:reminders"


class ReminderScheduler(Looping):
    """Ticks every `interval_seconds` while it holds the scheduler lock."""

    thread_name = "okr-reminders"

    def __init__(
        self, ledger: OkrLedger, settings: Settings, *, interval_seconds: float | None = None
    ) -> None:
        super().__init__()
        recorder: Any = ledger.recorder
        self.datastore = recorder.datastore
        self.store = NoticeStore(self.datastore)
        self.log = LogReader(recorder, ledger.mapper)
        self.policy = ReminderPolicy(
            grace_days=settings.reminder_grace_days,
            default_time_zone=settings.default_time_zone,
        )
        self.interval = (
            settings.reminder_interval_seconds if interval_seconds is None else interval_seconds
        )
        self.state = RemindersState()
        self.max_age = timedelta(hours=settings.notifier_max_age_hours)
        email = [c for c in configured_channels(settings) if c.name == "email"]
        self.digests = (
            Digests(
                self.store,
                LedgerDirectory(ledger),
                email[0],
                base_url(settings),
                settings.default_time_zone,
                self.policy.at,
            )
            if email and settings.digest
            else None
        )
        """The weekly digest, with e-mail configured (infra/notify/digest.py)."""

    def start(self) -> None:
        if not self.running:
            self.store.setup()
            super().start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop ticking (the thread is joined) and close the digest's e-mail channel."""
        super().stop(timeout)
        if self.digests is not None:
            with contextlib.suppress(Exception):
                self.digests.channel.close()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                with leadership(self.datastore, LOCK_KEY) as leading:
                    while leading and not self._stopping.is_set():
                        self.tick()
                        self._stopping.wait(self.interval)
                if not self._stopping.is_set():
                    self._stopping.wait(1.0)
            except Exception:
                log.exception("reminder scheduler failed; retrying")
                self._stopping.wait(1.0)

    def catch_up(self) -> None:
        """Fold the log past the state's position."""
        while True:
            page = self.log.page(self.state.position)
            if not page:
                return
            for logged in page:
                remember(self.state, logged)

    def tick(self, now: datetime | None = None) -> int:
        """Write the reminders due at `now` (default: the clock's now) and send the weekly
        digests due; how many reminders were new."""
        self.store.setup()
        self.catch_up()
        moment = now or datetime.now(UTC)
        if self.digests is not None:
            self.digests.send_due(self.state, moment)
        reminders = due_reminders(self.state, self.state.time_zones, moment, self.policy)
        phases = phase_notices(self.state, self.state.time_zones, moment, self.policy)
        asked: list[Reminder | PhaseNotice] = [*reminders, *phases]
        notices = [
            Notice(
                id=due.id,
                kind=due.kind,
                recipient_id=due.recipient_id,
                position=self.state.position,
                actor="system",
                objective_id=due.objective_id,
                link=due.link,
                data=due.data,
            )
            for due in asked
        ]
        if not notices:
            return 0
        # A phase that began longer ago than OKR_NOTIFIER_MAX_AGE_HOURS (a scheduler started
        # over old history) is shown in-app only, as the notifier does with old events.
        cutoff = moment - self.max_age
        old = frozenset(
            p.id
            for p in phases
            if p.kind != "grading_due" and self.state.phase_since.get(p.cycle_id, moment) < cutoff
        )
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            written = self.store.insert(curs, notices, old)
        if written:
            log.info("%d reminders due at %s", written, moment.isoformat())
        return written
